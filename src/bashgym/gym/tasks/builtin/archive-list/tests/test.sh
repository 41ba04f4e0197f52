#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(cat contents.txt)" = "$(printf "pkg/a.py\npkg/lib/b.py\npkg/z.txt")"
