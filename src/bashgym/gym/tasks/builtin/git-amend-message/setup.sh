#!/bin/bash
set -e
git init -q -b main repo && cd repo
echo "# Demo" > README.md && git add README.md && git commit -qm "Add README"
echo "# Demo project" > README.md && git commit -qam "Fix tpyo in REDME"
