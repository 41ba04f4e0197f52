#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
d=$(mktemp -d) && printf "a\nb\n" > $d/b.txt && printf "x\n" > $d/a.txt && touch $d/c.log
test "$(./count.sh $d)" = "$(printf "a.txt: 1\nb.txt: 2")"
