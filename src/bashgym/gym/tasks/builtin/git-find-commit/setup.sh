#!/bin/bash
set -e
git init -q -b main repo && cd repo
echo "# Demo" > README.md && git add README.md && git commit -qm "Add README"
for i in 1 2; do echo $i >> notes.txt; git add notes.txt; git commit -qm "notes $i"; done
echo s > secret.txt && git add secret.txt && git commit -qm "misc changes"
for i in 3 4; do echo $i >> notes.txt; git commit -qam "notes $i"; done
