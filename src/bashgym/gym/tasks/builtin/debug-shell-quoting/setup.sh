#!/bin/bash
set -e
chmod +x build.sh
