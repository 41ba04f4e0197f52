#!/bin/bash
set -e
cat > flaky.sh <<'EOF'
#!/bin/bash
n=$(( $(cat .count 2>/dev/null || echo 0) + 1 ))
echo $n > .count
[ $n -ge 3 ]
EOF
chmod +x flaky.sh
