#!/bin/bash
set -e
cat > count.sh <<'EOF'
#!/bin/bash
for f in "$1"/*.txt; do echo "$(basename "$f"): $(wc -l < "$f")"; done
EOF
chmod +x count.sh
