#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
# gone, or a zombie nobody reaped (no pid namespace on weak sandbox layers)
pid=$(cat service.pid)
for i in 1 2 3 4 5 6 7 8 9 10; do
  state=$(awk '/^State/ {print $2}' /proc/$pid/status 2>/dev/null || true)
  [ -z "$state" ] || [ "$state" = Z ] && exit 0
  sleep 0.1
done
exit 1
