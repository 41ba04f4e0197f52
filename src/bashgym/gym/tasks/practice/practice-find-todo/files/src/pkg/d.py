def f():
    pass  # TODO
