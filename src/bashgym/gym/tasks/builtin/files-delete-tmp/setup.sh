#!/bin/bash
set -e
mkdir -p work/sub/deeper
touch work/a.txt work/x.tmp work/sub/b.dat work/sub/y.tmp work/sub/deeper/z.tmp work/sub/deeper/c.tmpl
