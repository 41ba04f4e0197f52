#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test -f backup/main.py && test -f backup/pkg/util.py && test -f backup/pkg/sub/deep.py
test ! -e backup/README.md && test ! -e backup/pkg/data.json
cmp src/pkg/util.py backup/pkg/util.py
