#!/bin/bash
set -e
mkdir -p bundle/bin && echo 'key: value' > bundle/config.yaml && echo 'echo run' > bundle/bin/run.sh && tar -czf bundle.tar.gz bundle && rm -r bundle
