#!/bin/bash
set -e
awk -F, '{ s += $2 } END { print s }' nums.csv > total.txt
