#!/bin/bash
set -e
nohup bash -c 'while true; do echo tick >> ticks.log; sleep 0.1; done' >/dev/null 2>&1 &
echo $! > service.pid
# The service is up once it has ticked: on a loaded machine its first tick can come after a solution's kill,
# and a ticks.log that never existed is a broken task, not a wrong answer.
until [ -s ticks.log ]; do sleep 0.02; done
