"""Run the real mini-swe-agent (PyPI `mini-swe-agent`, pinned in the `dev` extra) headless, isolated in a
temporary HOME, against the scripted chat-completions server (harness/openai_server.py) on 127.0.0.1.

What this builds on (measured with 2.4.6; docs/formats.md, mini-swe-agent section):
- `mini -y --exit-immediately -t TASK -m openai/<model> -c mini.yaml -c model.model_kwargs.api_base=URL`:
  yolo mode runs every command without asking, `--exit-immediately` ends the run when the agent submits
  (`echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`) instead of asking for more; `key=value` config specs merge
  into the config. The model is called through litellm, without streaming, with one `bash` tool.
- MSWEA_CONFIGURED=1 skips the first-run setup prompt; MSWEA_COST_TRACKING=ignore_errors accepts a model with
  no known price; LITELLM_LOCAL_MODEL_COST_MAP keeps litellm from fetching its price list from the network.
- The trajectory is written (after every step) to `$XDG_CONFIG_HOME/mini-swe-agent/last_mini_run.traj.json`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from harness.agent_env import agent_env


def mini_bin() -> Path | None:
    """The `mini` script of the environment running the tests (the `dev` extra installs it), or None."""
    beside = Path(sys.executable).with_name("mini")
    found = beside if beside.exists() else shutil.which("mini")
    return Path(found) if found else None


def config_dir(home: Path) -> Path:
    """Where mini keeps its global config and last trajectory for this HOME (bashgym's default root)."""
    return home / ".config" / "mini-swe-agent"


def mini_env(home: Path) -> dict[str, str]:
    return agent_env(home, {
        "XDG_CONFIG_HOME": str(home / ".config"),
        "TERM": "dumb",
        "OPENAI_API_KEY": "dummy",
        "MSWEA_CONFIGURED": "1",
        "MSWEA_COST_TRACKING": "ignore_errors",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
    })


def run_mini(mini: Path, task: str, *, home: Path, cwd: Path, base_url: str, model: str,
             timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`mini -y --exit-immediately -t TASK` in cwd with stdin closed; the trajectory lands in config_dir(home)."""
    args = [str(mini), "-y", "--exit-immediately", "-t", task, "-m", f"openai/{model}", "-c", "mini.yaml",
            "-c", f"model.model_kwargs.api_base={base_url}"]
    return subprocess.run(args, cwd=cwd, env=mini_env(home), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
