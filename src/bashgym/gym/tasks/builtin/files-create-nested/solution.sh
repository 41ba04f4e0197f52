#!/bin/bash
set -e
mkdir -p a/b/c
echo hello > a/b/c/hello.txt
