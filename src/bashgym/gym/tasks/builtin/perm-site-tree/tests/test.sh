#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test -z "$(find site -type d ! -perm 755)"
test -z "$(find site -type f ! -perm 644)"
