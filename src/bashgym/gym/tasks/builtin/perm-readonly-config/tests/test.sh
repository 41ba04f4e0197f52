#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test -z "$(find config -type f ! -perm 444)"
test "$(find config -type f | wc -l)" = 3
