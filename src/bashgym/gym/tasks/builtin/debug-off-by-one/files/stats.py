def total(values):
    s = 0
    for i in range(1, len(values)):
        s += values[i]
    return s
