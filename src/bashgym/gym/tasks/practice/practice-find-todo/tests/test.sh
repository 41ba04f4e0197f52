#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(cat todo.txt)" = "$(printf "src/b.py\nsrc/pkg/d.py")"
