#!/bin/bash
set -e
cd repo && git tag -a v1.0 -m 'v1.0' "$(git log --format=%H --grep='^Release 1.0$')"
