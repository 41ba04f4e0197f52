#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(cat out/bundle/config.yaml)" = "key: value"
test -f out/bundle/bin/run.sh
