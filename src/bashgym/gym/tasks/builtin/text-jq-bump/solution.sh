#!/bin/bash
set -e
jq '.version = "2.0.0" | .license = "MIT"' package.json > package.json.new && mv package.json.new package.json
