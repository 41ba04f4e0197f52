#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
./build.sh
test "$(cat out/result.txt)" = "input data"
