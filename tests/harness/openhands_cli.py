"""Install and run the real OpenHands CLI (PyPI `openhands`, the V1 CLI on the OpenHands software-agent SDK;
pinned with every dependency in harness/openhands-requirements.txt) headless, in a temporary HOME, against the
scripted chat-completions server (harness/openai_server.py) on 127.0.0.1.

It runs without Docker: the CLI's conversations use the SDK's LocalWorkspace, so its `terminal` and
`file_editor` tools act on the working directory directly. It needs Python 3.12 (`Requires-Python: ==3.12.*`)
and ~200 packages (litellm, the SDK, textual, ...), so it gets a venv of its own in the tools dir
(.tools/openhands), built by uv from the full `pip freeze` of a working install, with
`--no-deps` (no resolver run, the same packages every time): ~15 s, where pip took 6.5 to 18 minutes here.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from harness import pip_tools
from harness.npm_tools import TOOLS_DIR

HARNESS_DIR = Path(__file__).resolve().parent
REQUIREMENTS = HARNESS_DIR / "openhands-requirements.txt"
VENV = TOOLS_DIR / "openhands"
DISTRIBUTION = "openhands"


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    """The OpenHands CLI version the requirements file pins."""
    return pip_tools.pinned_version(requirements, DISTRIBUTION)


def python312() -> str | None:
    """A Python 3.12 interpreter: $BASHGYM_PYTHON312, `python3.12` on PATH, or pyenv's 3.12.x; None if none runs."""
    candidates = [os.environ.get("BASHGYM_PYTHON312"), shutil.which("python3.12")]
    roots = {os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")}
    if shutil.which("pyenv"):
        roots.add(subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip())
    for root in sorted(filter(None, roots)):
        candidates += sorted(glob.glob(f"{root}/versions/3.12.*/bin/python3.12"), reverse=True)
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                                 capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.strip() == "True":
            return candidate
    return None


@cache
def openhands_bin() -> Path:
    """The pinned `openhands` script, installing it into its own venv on first use."""
    python = python312()
    if python is None:
        raise RuntimeError("the OpenHands CLI needs Python 3.12: none found (set BASHGYM_PYTHON312, or put "
                           "python3.12 on PATH)")
    pip_tools.install_venv(VENV, REQUIREMENTS, DISTRIBUTION, python=python, pip_args=("--no-deps",), installer="uv")
    return VENV / "bin" / "openhands"


# Every start checks PyPI for a newer CLI (its splash) and `git clone`s the public skills repository from GitHub;
# neither can be switched off. A proxy on a closed loopback port makes both fail at once, without a DNS query,
# while the scripted server (no_proxy) is reached directly: strace then shows connections to 127.0.0.1 only.
CLOSED_PROXY = "http://127.0.0.1:9"


def openhands_env(home: Path, base_url: str, model: str) -> dict[str, str]:
    """The CLI's environment: LLM settings from env (`--override-with-envs`), nothing that phones home."""
    return {
        **{name: CLOSED_PROXY for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")},
        **{name: "127.0.0.1,localhost" for name in ("NO_PROXY", "no_proxy")},
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "LLM_API_KEY": "dummy",
        "LLM_BASE_URL": base_url,
        "LLM_MODEL": model,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def run_openhands(openhands: Path, task: str, *, home: Path, cwd: Path, base_url: str, model: str,
                  resume: str | None = None, timeout: float = 480) -> subprocess.CompletedProcess[str]:
    """`openhands --headless --json --override-with-envs -t TASK` in cwd, stdin closed; with `resume`, the
    task is the next prompt of that conversation. Headless mode never asks for confirmation."""
    args = [str(openhands), "--headless", "--json", "--override-with-envs", "-t", task]
    if resume:
        args += ["--resume", resume]
    return subprocess.run(args, cwd=cwd, env=openhands_env(home, base_url, model), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
