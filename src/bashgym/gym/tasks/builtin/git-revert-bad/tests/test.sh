#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd repo
test "$(cat value.txt)" = good
test "$(git rev-list --count HEAD)" = 4
git log --format=%s | grep -q "break value"
test -z "$(git status --porcelain)"
