#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd repo
git rev-parse --verify -q feature/login >/dev/null
test "$(git show feature/login:login.txt)" = login
! git cat-file -e main:login.txt 2>/dev/null || exit 1
git merge-base --is-ancestor main feature/login
