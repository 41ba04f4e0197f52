"""PyPI agents the end-to-end tests drive, each in a venv of its own under the tools dir (.tools/<name>).

Such agents pin (or need) dependency versions that must not enter bashgym's environment (Aider: numpy 1.26 and
~100 exact pins; OpenHands: Python 3.12 and ~200 packages), so each gets its own venv, built from a requirements
file in tests/harness/ at most once per file content (a digest stamp in the venv), under a file lock so two
pytest workers never run pip into the same venv at once. The agent's own version is read back from its
dist-info and must be the one the file pins.

`installer="uv"` builds the venv with uv (the `uv` package of the dev extra) instead of venv + pip: for a large
fully pinned file it is the difference between minutes and seconds here (OpenHands' 200 packages: pip 6.5 to
18 min wall, 2.5 to 3 min of CPU, mostly compiling .pyc files, with no download cache on these machines; uv ~15 s).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
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


def uv_bin() -> str:
    """The uv beside this interpreter (the dev extra installs it), else the one on PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        raise RuntimeError("uv is needed to build this tool's venv: pip install -e '.[dev]' (or pip install uv)")
    return found


def _commands(venv: Path, requirements: Path, python: str, pip_args: tuple[str, ...],
              installer: str) -> list[list[str]]:
    if installer == "uv":
        uv = uv_bin()
        return [[uv, "venv", "-q", "--python", python, str(venv)],
                [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *pip_args,
                 "-r", str(requirements)]]
    return [[python, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             *pip_args, "-r", str(requirements)]]


def install_venv(venv: Path, requirements: Path, distribution: str, *, python: str | None = None,
                 pip_args: tuple[str, ...] = (), installer: str = "pip") -> None:
    """Build the venv with `python` (default: the interpreter running this) and install the requirements file
    into it with `installer` (pip, or uv), unless this exact file is installed there already. Raises
    ToolVersionError when another version of `distribution` than the file pins was installed, RuntimeError
    when building the venv or installing fails."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    pinned = pinned_version(requirements, distribution)
    with open(venv.parent / f".{venv.name}-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        stamp = venv / STAMP
        if stamp.exists() and stamp.read_text().strip() == digest and installed_version(venv, distribution) == pinned:
            return
        stamp.unlink(missing_ok=True)
        if installer == "uv":
            shutil.rmtree(venv, ignore_errors=True)  # uv builds the venv anew, never over an old one
        base = python or getattr(sys, "_base_executable", sys.executable)
        # uv's download cache beside the venvs (not under the test's temporary HOME): a rebuilt venv reuses it
        env = {**os.environ, "UV_CACHE_DIR": str(venv.parent / ".uv-cache")}
        for args in _commands(venv, requirements, base, pip_args, installer):
            proc = subprocess.run(args, capture_output=True, text=True, timeout=1800, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(args[:4])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        found = installed_version(venv, distribution)
        if found != pinned:
            raise ToolVersionError(f"pip installed {distribution} {found} into {venv}, {requirements.name} pins "
                                   f"{pinned}")
        stamp.write_text(digest + "\n")
