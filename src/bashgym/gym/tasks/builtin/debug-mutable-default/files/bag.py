def add(item, bag=[]):
    bag.append(item)
    return bag
