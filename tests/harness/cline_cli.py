"""Install and run the real Cline CLI (npm `cline` 3.0.x) headless, isolated in a temporary HOME, against the
scripted streaming chat-completions server (harness/chat_stream_server.py) on 127.0.0.1.

What this builds on (measured with 3.0.65; docs/formats.md, Cline section):
- `cline` is a Node resolver for a compiled Bun binary (`@cline/cli-linux-x64`, linked to `bin/.cline` by the
  postinstall); it runs under this machine's Node 20 (it only warns that Node 20 cannot read the OS trust store).
- `cline auth -p openai -k KEY -m MODEL -b BASE_URL` writes `~/.cline/data/settings/providers.json`
  (provider `openai-compatible`); then `cline --json -P openai -m MODEL PROMPT` runs one task headless, tools
  auto-approved, and prints JSON lines (agent events, then `{"type": "run_result", ...}`).
- `CLINE_SESSION_BACKEND_MODE=local`: without it the CLI starts a background "hub" daemon (`.cline
  --cline-hub-daemon`) that outlives the run. `CLINE_NO_AUTO_UPDATE=1`.
- `--id <session>` (resume) refuses a prompt argument in `--json` mode ("JSON output mode requires a prompt
  argument or piped stdin"), so a scenario is one run.
- The session is written to `~/.cline/data/sessions/<id>/<id>.json` (metadata) and `<id>.messages.json`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.agent_env import agent_env
from harness.npm_tools import CLINE_PACKAGE, npm_bin


def cline_bin() -> Path | None:
    """The `cline` binary, installing the lock into .tools/ on first use; None without npm."""
    return npm_bin(CLINE_PACKAGE, "cline")


def cline_sessions(home: Path) -> Path:
    """Where the CLI keeps its sessions for this HOME (bashgym's default Cline root)."""
    return home / ".cline" / "data" / "sessions"


def cline_env(home: Path) -> dict[str, str]:
    return agent_env(home, {"CLINE_SESSION_BACKEND_MODE": "local", "CLINE_NO_AUTO_UPDATE": "1"})


def run_cline(cline: Path, prompt: str, *, home: Path, cwd: Path, base_url: str, model: str,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`cline auth` for the scripted server, then `cline --json -P openai -m MODEL PROMPT` in cwd, stdin closed."""
    env = cline_env(home)
    auth = subprocess.run([str(cline), "auth", "-p", "openai", "-k", "dummy", "-m", model, "-b", base_url], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if auth.returncode != 0:
        return auth
    return subprocess.run([str(cline), "--json", "-P", "openai", "-m", model, "-t", str(int(timeout)), prompt],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout + 30,
                          stdin=subprocess.DEVNULL)
