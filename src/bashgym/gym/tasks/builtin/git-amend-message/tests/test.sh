#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd repo
test "$(git log -1 --format=%s)" = "Fix typo in README"
test "$(git rev-list --count HEAD)" = 2
grep -q "Demo project" README.md
