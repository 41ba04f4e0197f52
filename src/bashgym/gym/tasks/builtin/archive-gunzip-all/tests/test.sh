#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test "$(cat logs/app.log)" = "app log"
test "$(cat logs/db.log)" = "db log"
