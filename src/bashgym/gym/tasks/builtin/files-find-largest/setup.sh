#!/bin/bash
set -e
mkdir -p data/deep/inner data/other
head -c 100 /dev/zero > data/a.bin
head -c 5000 /dev/zero > data/deep/inner/big.bin
head -c 3000 /dev/zero > data/other/mid.bin
