#!/bin/bash
set -e
pid=$(cat service.pid)
kill "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
wc -l < ticks.log > count.txt
