#!/bin/bash
set -e
git init -q -b main repo && cd repo
echo "# Demo" > README.md && git add README.md && git commit -qm "Add README"
echo 1 > v && git add v && git commit -qm "Release 1.0"
echo 2 > v && git commit -qam "Start 1.1"
