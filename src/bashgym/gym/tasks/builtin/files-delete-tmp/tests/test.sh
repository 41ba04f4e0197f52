#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test -z "$(find work -name '*.tmp')"
test -f work/a.txt && test -f work/sub/b.dat && test -f work/sub/deeper/c.tmpl
