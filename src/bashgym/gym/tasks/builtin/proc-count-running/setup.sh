#!/bin/bash
set -e
for i in 1 2 3; do nohup sleep 1000 >/dev/null 2>&1 & echo $! >> pids.txt; done
victim=$(sed -n 2p pids.txt)
kill "$victim"
wait "$victim" 2>/dev/null || true
