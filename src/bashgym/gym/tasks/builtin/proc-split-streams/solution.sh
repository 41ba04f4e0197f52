#!/bin/bash
set -e
./noisy.sh > out.log 2> err.log
