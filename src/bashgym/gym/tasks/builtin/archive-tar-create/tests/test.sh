#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
tar -tzf backup.tar.gz | grep -qx "data/a.txt"
tar -tzf backup.tar.gz | grep -qx "data/sub/b.txt"
chk=$(mktemp -d) && tar -xzf backup.tar.gz -C "$chk" && cmp "$chk/data/sub/b.txt" data/sub/b.txt
