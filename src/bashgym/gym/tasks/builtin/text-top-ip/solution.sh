#!/bin/bash
set -e
awk '{print $1}' access.log | sort | uniq -c | sort -rn | head -1 | awk '{print $2}' > top_ip.txt
