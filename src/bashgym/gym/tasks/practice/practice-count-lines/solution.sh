#!/bin/bash
set -e
wc -l < data.txt > count.txt
