#!/usr/bin/env bash
# The README's test command and what CI runs (.ci/run): install bashgym with every extra into .venv,
# then run the whole suite. Safe to rerun; a second run reuses .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real tools some tests drive: bubblewrap (gym sandbox), jq (gym text tasks), git, chromium (UI browser
# tests), postgresql (team-store tests), npm (installs the real Claude Code / Codex CLIs for the end-to-end tests into .tools/).
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  # Everything the tests need is installed here, so a skipped test fails (tests/conftest.py).
  export BASHGYM_NO_SKIPS=1
  missing=""
  command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
  command -v jq >/dev/null 2>&1 || missing="$missing jq"
  command -v git >/dev/null 2>&1 || missing="$missing git"
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
  # PostgreSQL's server for the team-store tests (tests/pg_server.py runs it as an unprivileged user)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$missing postgresql"
  if [ -n "$missing" ]; then
    echo "installing system packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

PYTHON="${PYTHON:-python3}"
# The agent CLIs the end-to-end tests drive (tests/harness/package-lock.json) download while pip works: a
# test that needs them waits under the installer's file lock, and installs them itself if this failed.
if command -v npm >/dev/null 2>&1; then
  "$PYTHON" tests/harness/npm_tools.py > /dev/null 2>&1 &
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch is pinned to the CPU build first so nothing pulls a multi-GB CUDA build (see README).
# Byte-compiled with compileall on every core instead of by pip, which compiles one file at a time (an install took
# 493 s with pip's compiling and 144 s without, n=1 each at different loads; compileall -j 0: ~40 s here). They
# must be compiled: where PYTHONDONTWRITEBYTECODE is set, as on CI, Python writes no .pyc as it imports, so every
# test process would compile all it imports, every time (`import torch, transformers`: 13 s a process without
# .pyc files, 7 s with). A file that does not compile (some packages ship Python 2 examples) is reported by
# Python if it is ever imported, so compileall's status is not checked.
.venv/bin/python -m pip install -q --no-compile "torch==2.13.0" -e ".[all,dev]"
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
.venv/bin/python -m compileall -q -j 0 "$site" src tests > /dev/null 2>&1 || true
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Test artifacts (a screenshot of every UI page, tests/test_ui_browser.py) are kept under out/ (git-ignored).
export BASHGYM_TEST_ARTIFACTS="${BASHGYM_TEST_ARTIFACTS:-$PWD/out/test-artifacts}"
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile -q "$@"
