#!/bin/bash
set -e
cd repo && git log --diff-filter=A --format=%H -- secret.txt > ../answer.txt
