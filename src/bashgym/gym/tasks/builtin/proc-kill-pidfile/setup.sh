#!/bin/bash
set -e
nohup bash -c 'while true; do echo tick >> ticks.log; sleep 0.1; done' >/dev/null 2>&1 &
echo $! > service.pid
