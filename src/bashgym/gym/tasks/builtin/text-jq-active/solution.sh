#!/bin/bash
set -e
jq -r '[.[] | select(.active) | .name] | sort | .[]' users.json > active.txt
