# TODO: fix
