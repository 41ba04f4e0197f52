#!/bin/bash
set -e
SRC="my input.txt"
mkdir -p out
cp $SRC out/
mv "out/$SRC" out/result.txt
