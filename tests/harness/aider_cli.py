"""Install and run the real Aider (PyPI `aider-chat`, pinned in harness/aider-requirements.txt) headless,
isolated in a temporary HOME and git repository, against the scripted chat-completions server
(harness/openai_server.py) on 127.0.0.1.

Aider pins about a hundred exact dependency versions (numpy 1.26, litellm, scipy, ...), so it never enters
bashgym's own environment: it gets a venv of its own in the tools dir (.tools/aider), built at most once per
requirements file (a digest stamp, under a file lock, like harness/npm_tools.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from harness.npm_tools import TOOLS_DIR, ToolVersionError

HARNESS_DIR = Path(__file__).resolve().parent
REQUIREMENTS = HARNESS_DIR / "aider-requirements.txt"
VENV = TOOLS_DIR / "aider"
STAMP = ".bashgym-requirements-sha256"


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    """The aider-chat version the requirements file pins."""
    for line in requirements.read_text().splitlines():
        if line.strip().startswith("aider-chat=="):
            return line.split("==", 1)[1].strip()
    raise KeyError(f"aider-chat is not pinned in {requirements}")


def installed_version(venv: Path = VENV) -> str | None:
    """aider-chat's version in the venv (from its dist-info), or None when it is not installed."""
    found = sorted(venv.glob("lib/python*/site-packages/aider_chat-*.dist-info"))
    return found[-1].name.removeprefix("aider_chat-").removesuffix(".dist-info") if found else None


def install(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> None:
    """Build the venv and pip-install the pinned Aider into it unless this exact requirements file is installed
    already. Raises ToolVersionError when pip installed another version than the pin."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    with open(venv.parent / ".aider-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        stamp = venv / STAMP
        if stamp.exists() and stamp.read_text().strip() == digest and installed_version(venv) == pinned_version(requirements):
            return
        stamp.unlink(missing_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        for args in ([base, "-m", "venv", str(venv)],
                     [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                      "-r", str(requirements)]):
            proc = subprocess.run(args, capture_output=True, text=True, timeout=1200)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(args[:4])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        found = installed_version(venv)
        if found != pinned_version(requirements):
            raise ToolVersionError(f"pip installed aider-chat {found} into {venv}, {requirements.name} pins "
                                   f"{pinned_version(requirements)}")
        stamp.write_text(digest + "\n")


@cache
def aider_bin() -> Path | None:
    """The pinned `aider` script, installing it into its own venv on first use; None when pip cannot run."""
    install()
    path = VENV / "bin" / "aider"
    return path if path.exists() else None


# Model info for the scripted model, so neither aider nor litellm looks it up on the network
# (`~/.aider.model.metadata.json` is one of the places aider reads it from).
def model_metadata(model: str) -> dict[str, dict[str, object]]:
    return {model: {"max_input_tokens": 32000, "max_output_tokens": 4096, "max_tokens": 4096,
                    "input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "litellm_provider": "openai",
                    "mode": "chat"}}


def aider_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def init_repo(work: Path, files: dict[str, str]) -> None:
    """A git repository holding `files`, committed, with a local identity (aider commits its edits)."""
    work.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (work / name).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "Test User"],
                 ["config", "user.email", "test@example.com"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run(["git", *args], cwd=work, check=True, capture_output=True, env={**aider_env(work.parent)})


def run_aider(aider: Path, message: str, *, home: Path, cwd: Path, base_url: str, model: str,
              files: tuple[str, ...] = (), timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`aider --message MESSAGE FILES...` in cwd with stdin closed.

    Not `--yes-always`: it answers "no" to "Run shell command?" (explicit_yes_required). With stdin at EOF
    every question takes its default instead, and the default of each one asked here is yes.
    """
    import json

    (home / ".aider.model.metadata.json").write_text(json.dumps(model_metadata(model)))
    args = [str(aider), "--message", message, *files, "--model", model, "--openai-api-base", base_url,
            "--openai-api-key", "dummy", "--edit-format", "diff", "--no-stream", "--no-pretty", "--no-fancy-input",
            "--no-check-update", "--no-show-release-notes", "--analytics-disable", "--map-tokens", "0",
            "--no-show-model-warnings", "--no-gitignore"]
    return subprocess.run(args, cwd=cwd, env=aider_env(home), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
