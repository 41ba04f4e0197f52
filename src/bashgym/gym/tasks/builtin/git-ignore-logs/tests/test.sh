#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd repo
test -z "$(git status --porcelain)"
git ls-files | grep -qx .gitignore
! git ls-files | grep -q "\.log$" || exit 1
git check-ignore -q build/out.bin
