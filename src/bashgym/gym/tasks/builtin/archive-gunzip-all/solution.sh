#!/bin/bash
set -e
gunzip logs/*.gz
