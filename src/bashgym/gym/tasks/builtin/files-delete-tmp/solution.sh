#!/bin/bash
set -e
find work -type f -name '*.tmp' -delete
