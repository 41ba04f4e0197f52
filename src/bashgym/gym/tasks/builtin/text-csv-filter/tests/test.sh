#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(cat older.csv)" = "$(printf "name,age,city\nann,45,Oslo\ncid,31,Rome")"
