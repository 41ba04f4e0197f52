echo core
