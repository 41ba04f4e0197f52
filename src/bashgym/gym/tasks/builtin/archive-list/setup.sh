#!/bin/bash
set -e
mkdir -p pkg/lib && touch pkg/a.py pkg/lib/b.py pkg/z.txt && tar -cf archive.tar pkg && rm -r pkg
