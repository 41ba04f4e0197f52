#!/bin/bash
set -e
cat > rank.py <<'EOF'
def rank(scores):
    return [name for name, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
EOF
