#!/bin/bash
set -e
grep -c ' ERROR ' app.log > errors.txt
