#!/bin/bash
set -e
set +e
./check.sh; echo $? > code.txt
