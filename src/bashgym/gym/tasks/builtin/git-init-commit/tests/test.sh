#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd project
test "$(git log --format=%s)" = "initial import"
test -z "$(git status --porcelain)"
git ls-files | grep -q "^lib/core.sh$"
