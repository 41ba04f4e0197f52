#!/bin/bash
set -e
kill "$(cat service.pid)"
