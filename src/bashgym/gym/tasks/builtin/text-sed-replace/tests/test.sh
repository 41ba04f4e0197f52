#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
grep -q "^primary = new.example.com$" config.ini
grep -q "^backup = new.example.com:8080$" config.ini
! grep -q old.example.com config.ini || exit 1
grep -q "^name = oldexample$" config.ini
test "$(wc -l < config.ini)" = 5
