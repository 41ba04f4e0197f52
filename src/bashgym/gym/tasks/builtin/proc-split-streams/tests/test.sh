#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(cat out.log)" = "$(printf "out 1\nout 2")"
test "$(cat err.log)" = "$(printf "err 1\nerr 2")"
