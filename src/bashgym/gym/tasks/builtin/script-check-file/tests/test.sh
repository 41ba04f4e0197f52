#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
d=$(mktemp -d) && echo x > $d/full && : > $d/empty
./check.sh $d/full
test "$(./check.sh $d/empty)" = missing
! ./check.sh $d/nope >/dev/null || exit 1
