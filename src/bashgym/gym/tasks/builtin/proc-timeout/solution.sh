#!/bin/bash
set -e
set +e
timeout 1 ./hang.sh; echo $? > status.txt
