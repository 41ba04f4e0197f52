#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test -L current
test "$(readlink current)" = releases/v2
test "$(cat current/VERSION)" = 2
