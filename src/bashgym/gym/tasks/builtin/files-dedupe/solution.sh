#!/bin/bash
set -e
cd photos && md5sum * | sort -k2 | awk 'seen[$1]++ { print $2 }' | xargs -r rm --
