#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test -d out/logs && test -f out/logs/.keep && test ! -s out/logs/.keep
