#!/bin/bash
set -e
mkdir logs && echo 'app log' > logs/app.log && echo 'db log' > logs/db.log && gzip logs/app.log logs/db.log
