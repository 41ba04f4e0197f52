#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(./greet.sh Ada)" = "Hello, Ada!"
test "$(./greet.sh)" = "Hello, world!"
test "$(./greet.sh "Mary Ann")" = "Hello, Mary Ann!"
