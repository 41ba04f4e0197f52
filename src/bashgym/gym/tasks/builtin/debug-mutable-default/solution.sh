#!/bin/bash
set -e
cat > bag.py <<'EOF'
def add(item, bag=None):
    bag = [] if bag is None else bag
    bag.append(item)
    return bag
EOF
