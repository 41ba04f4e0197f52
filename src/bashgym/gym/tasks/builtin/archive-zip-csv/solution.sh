#!/bin/bash
set -e
python3 -m zipfile -c reports.zip reports/*.csv
