#!/bin/bash
set -e
sed -i 's/old\.example\.com/new.example.com/g' config.ini
