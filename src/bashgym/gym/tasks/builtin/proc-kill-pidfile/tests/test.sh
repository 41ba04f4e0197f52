#!/bin/bash
# exit code 0 = pass; runs in the workspace after every process of the episode is gone, tests at $TEST_DIR.
# A service still running when count.txt was written kept ticking until the episode ended: the count is stale.
set -e
test -s count.txt
test "$(tr -d '[:space:]' < count.txt)" = "$(wc -l < ticks.log | tr -d '[:space:]')"
