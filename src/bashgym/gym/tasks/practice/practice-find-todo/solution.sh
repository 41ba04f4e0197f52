#!/bin/bash
set -e
grep -rl --include=*.py TODO src | sort > todo.txt
