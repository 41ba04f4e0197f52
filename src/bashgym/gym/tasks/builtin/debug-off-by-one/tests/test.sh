#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
cp "$TEST_DIR/hidden_test.py" ./hidden_test_stats.py
python3 -m unittest -q test_stats.py hidden_test_stats.py
