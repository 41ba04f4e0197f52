"""PyPI agents the end-to-end tests drive, each in a venv of its own under the tools dir (.tools/<name>).

Such agents pin (or need) dependency versions that must not enter bashgym's environment (Aider: numpy 1.26 and
~100 exact pins; OpenHands: Python 3.12 and ~200 packages), so each gets its own venv, built from a requirements
file in tests/harness/ at most once per file content (a digest stamp in the venv), under a file lock so two
pytest workers never run pip into the same venv at once. The agent's own version is read back from its
dist-info and must be the one the file pins.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

from harness.npm_tools import ToolVersionError

STAMP = ".bashgym-requirements-sha256"


def pinned_version(requirements: Path, distribution: str) -> str:
    """The version of `distribution` that the requirements file pins with `==`."""
    for line in requirements.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name.strip().lower() == distribution.lower():
            return version.split(";", 1)[0].strip()
    raise KeyError(f"{distribution} is not pinned in {requirements}")


def installed_version(venv: Path, distribution: str) -> str | None:
    """`distribution`'s version in the venv (from its dist-info), or None when it is not installed."""
    stem = distribution.replace("-", "_")
    found = sorted(venv.glob(f"lib/python*/site-packages/{stem}-*.dist-info"))
    return found[-1].name.removeprefix(f"{stem}-").removesuffix(".dist-info") if found else None


def install_venv(venv: Path, requirements: Path, distribution: str, *, python: str | None = None,
                 pip_args: tuple[str, ...] = ()) -> None:
    """Build the venv with `python` (default: the interpreter running this) and pip-install the requirements
    file into it, unless this exact file is installed there already. Raises ToolVersionError when pip
    installed another version of `distribution` than the file pins, RuntimeError when venv or pip fails."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    pinned = pinned_version(requirements, distribution)
    with open(venv.parent / f".{venv.name}-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        stamp = venv / STAMP
        if stamp.exists() and stamp.read_text().strip() == digest and installed_version(venv, distribution) == pinned:
            return
        stamp.unlink(missing_ok=True)
        base = python or getattr(sys, "_base_executable", sys.executable)
        for args in ([base, "-m", "venv", str(venv)],
                     [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                      *pip_args, "-r", str(requirements)]):
            proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(args[:4])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        found = installed_version(venv, distribution)
        if found != pinned:
            raise ToolVersionError(f"pip installed {distribution} {found} into {venv}, {requirements.name} pins "
                                   f"{pinned}")
        stamp.write_text(digest + "\n")
