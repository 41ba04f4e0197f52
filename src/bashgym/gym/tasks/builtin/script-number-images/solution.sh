#!/bin/bash
set -e
cd img && i=0; for f in $(ls *.jpg | sort); do i=$((i+1)); mv "$f" "$(printf 'img_%03d.jpg' $i)"; done
