#!/bin/bash
set -e
mkdir -p out/logs && touch out/logs/.keep
