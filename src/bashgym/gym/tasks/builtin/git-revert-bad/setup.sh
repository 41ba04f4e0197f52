#!/bin/bash
set -e
git init -q -b main repo && cd repo
echo "# Demo" > README.md && git add README.md && git commit -qm "Add README"
echo good > value.txt && git add value.txt && git commit -qm "Add value"
echo bad > value.txt && git commit -qam "break value"
