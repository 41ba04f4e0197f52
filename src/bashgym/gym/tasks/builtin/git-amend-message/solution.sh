#!/bin/bash
set -e
cd repo && git commit -q --amend -m 'Fix typo in README'
