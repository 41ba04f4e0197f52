#!/bin/bash
set -e
cd repo && git checkout -qb feature/login && echo login > login.txt && git add login.txt && git commit -qm 'Add login'
