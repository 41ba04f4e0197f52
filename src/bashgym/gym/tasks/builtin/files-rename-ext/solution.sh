#!/bin/bash
set -e
for f in docs/*.txt; do mv "$f" "${f%.txt}.md"; done
