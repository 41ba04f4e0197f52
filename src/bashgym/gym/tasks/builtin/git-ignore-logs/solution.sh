#!/bin/bash
set -e
cd repo && printf '*.log\nbuild/\n' > .gitignore && git add .gitignore && git commit -qm 'Ignore logs and build'
