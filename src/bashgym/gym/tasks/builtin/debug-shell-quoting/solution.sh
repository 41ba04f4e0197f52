#!/bin/bash
set -e
sed -i 's/cp $SRC out\//cp "$SRC" out\//' build.sh && ./build.sh
