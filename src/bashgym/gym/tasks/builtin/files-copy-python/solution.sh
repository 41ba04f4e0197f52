#!/bin/bash
set -e
cd src && find . -name '*.py' | while read -r f; do mkdir -p "../backup/$(dirname "$f")"; cp "$f" "../backup/$f"; done
