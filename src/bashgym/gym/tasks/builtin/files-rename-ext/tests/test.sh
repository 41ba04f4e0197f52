#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
test -f docs/intro.md && test -f docs/setup.md && test -f "docs/faq part.md"
! ls docs/*.txt 2>/dev/null | grep -q . || exit 1
test "$(cat docs/intro.md)" = "Intro"
test -f docs/keep.rst
