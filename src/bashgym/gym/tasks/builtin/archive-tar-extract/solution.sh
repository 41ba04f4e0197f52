#!/bin/bash
set -e
mkdir -p out && tar -xzf bundle.tar.gz -C out
