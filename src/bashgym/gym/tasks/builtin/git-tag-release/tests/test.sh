#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd repo
test "$(git cat-file -t v1.0)" = tag
test "$(git rev-list -n1 v1.0)" = "$(git log --format=%H --grep="^Release 1.0$")"
