#!/bin/bash
set -e
git init -q -b main repo && cd repo
echo "# Demo" > README.md && git add README.md && git commit -qm "Add README"
