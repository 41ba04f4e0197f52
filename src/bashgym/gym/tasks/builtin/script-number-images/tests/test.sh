#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cd img
test "$(ls | tr "\n" " ")" = "img_001.jpg img_002.jpg img_003.jpg "
test "$(cat img_001.jpg)" = apple
test "$(cat img_003.jpg)" = zebra
