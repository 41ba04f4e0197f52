#!/bin/bash
set -e
find shared -type f -perm -o+w | sort > ww.txt
