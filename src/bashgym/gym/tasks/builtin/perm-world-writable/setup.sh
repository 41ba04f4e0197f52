#!/bin/bash
set -e
mkdir -p shared/sub && touch shared/a.txt shared/b.txt shared/sub/c.txt shared/sub/d.txt
chmod 644 shared/a.txt shared/sub/c.txt && chmod 666 shared/b.txt && chmod 777 shared/sub/d.txt
