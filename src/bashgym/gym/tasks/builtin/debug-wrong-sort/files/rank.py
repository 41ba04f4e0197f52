def rank(scores):
    return [name for name, _ in sorted(scores.items(), key=lambda kv: kv[1])]
