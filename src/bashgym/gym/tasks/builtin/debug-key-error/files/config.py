DEFAULTS = {'host': 'localhost', 'port': 8080}


def get(key, overrides=None):
    merged = dict(DEFAULTS, **(overrides or {}))
    return merged[key.upper()]
