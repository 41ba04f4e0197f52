#!/bin/bash
set -e
MODE=production ./app.sh > out.txt
