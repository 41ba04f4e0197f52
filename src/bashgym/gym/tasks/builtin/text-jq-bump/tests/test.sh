#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
jq -e '.version == "2.0.0" and .license == "MIT" and .name == "demo" and .scripts.test == "pytest"' package.json
