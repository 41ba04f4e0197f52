#!/bin/bash
set -e
tar -tf archive.tar | grep -v '/$' | sort > contents.txt
