#!/bin/bash
set -e
nohup sleep 1000 >/dev/null 2>&1 &
echo $! > service.pid
