#!/bin/bash
set -e
n=0; while read -r p; do kill -0 "$p" 2>/dev/null && n=$((n+1)); done < pids.txt; echo $n > running.txt
