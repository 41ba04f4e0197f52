#!/bin/bash
set -e
python3 -c 'import json; print(json.load(open("info.json"))["name"])' > name.txt
