#!/bin/bash
set -e
awk -F, 'NR == 1 || $2 > 30' people.csv > older.csv
