"""Install and run the real Aider (PyPI `aider-chat`, pinned in harness/aider-requirements.txt) headless,
isolated in a temporary HOME and git repository, against the scripted chat-completions server
(harness/openai_server.py) on 127.0.0.1.

Aider pins about a hundred exact dependency versions (numpy 1.26, litellm, scipy, ...), so it never enters
bashgym's own environment: it gets a venv of its own in the tools dir (.tools/aider), built at most once per
requirements file (harness/pip_tools.py: a digest stamp, under a file lock, like harness/npm_tools.py).
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

from harness import pip_tools
from harness.npm_tools import TOOLS_DIR

HARNESS_DIR = Path(__file__).resolve().parent
REQUIREMENTS = HARNESS_DIR / "aider-requirements.txt"
VENV = TOOLS_DIR / "aider"


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    """The aider-chat version the requirements file pins."""
    return pip_tools.pinned_version(requirements, "aider-chat")


def installed_version(venv: Path = VENV) -> str | None:
    """aider-chat's version in the venv (from its dist-info), or None when it is not installed."""
    return pip_tools.installed_version(venv, "aider-chat")


def install(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> None:
    """Build the venv and install (uv: ~15 s where pip took ~95 s) the pinned Aider into it unless this exact requirements file is installed
    already (harness/pip_tools.py)."""
    pip_tools.install_venv(venv, requirements, "aider-chat", installer="uv")


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
