#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd photos
test "$(ls | tr "\n" " ")" = "a.jpg c.jpg e.jpg "
