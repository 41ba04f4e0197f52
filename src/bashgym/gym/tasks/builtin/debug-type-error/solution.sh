#!/bin/bash
set -e
cat > report.py <<'EOF'
def line(name, count):
    return name + ': ' + str(count) + ' items'
EOF
