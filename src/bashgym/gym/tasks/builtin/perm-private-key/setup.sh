#!/bin/bash
set -e
echo key > secret.key && chmod 644 secret.key
