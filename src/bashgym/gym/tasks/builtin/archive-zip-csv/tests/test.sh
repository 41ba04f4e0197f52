#!/bin/bash
# exit code 0 = pass; runs in the workspace, tests staged at $TEST_DIR
set -e
python3 - <<'EOF'
import zipfile
names = sorted(n.rsplit("/", 1)[-1] for n in zipfile.ZipFile("reports.zip").namelist())
assert names == ["march.csv", "may.csv"], names
EOF
