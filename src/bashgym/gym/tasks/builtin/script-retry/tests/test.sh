#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(cat .count)" = 3
./retry.sh true
! ./retry.sh false || exit 1
