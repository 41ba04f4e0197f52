"""Install and run the real GitHub Copilot CLI (npm `@github/copilot` 1.0.x) headless, isolated in a temporary
HOME, against the scripted streaming chat-completions server (harness/chat_stream_server.py) on 127.0.0.1.

What this builds on (measured with 1.0.102; docs/formats.md, GitHub Copilot CLI section):
- No GitHub account is needed: `COPILOT_OFFLINE=true` (no GitHub auth, telemetry, MCP or update checks) with a
  bring-your-own-key provider, `COPILOT_PROVIDER_BASE_URL` = the server's `/v1` (type "openai", wire API
  "completions" by default), `COPILOT_PROVIDER_API_KEY`, and the model in `COPILOT_MODEL`. Every agent step
  is then one streamed `POST /v1/chat/completions` with the tools; nothing else is asked of the server.
- `copilot -p PROMPT --allow-all --output-format json --no-auto-update` with stdin closed runs one prompt;
  stdout is JSON lines of session events, the last `{"type": "result", "sessionId", "exitCode", ...}`.
  `--resume=<id>` continues a session (appending to the same events file).
- The npm package is a loader for a native binary that unpacks its runtime (~235 MB) into
  `$XDG_CACHE_HOME/copilot/pkg/<platform>/<version>/` on first start (~4 s). The harness points
  XDG_CACHE_HOME at one directory in the tools dir and unpacks it once, under a file lock.
- Sessions are written to `$HOME/.copilot/session-state/<session id>/events.jsonl` (plus workspace.yaml,
  checkpoints/ and rewind-file-snapshots/ beside it).
- Hooks: `hooks` in `~/.copilot/settings.json`, keyed by event; with PascalCase names (`PostToolUse`, `Stop`)
  the payload on stdin is Claude-style (`hook_event_name`, `session_id`, `cwd`, `transcript_path` on Stop);
  user-level hooks fire in `-p` mode.
"""

from __future__ import annotations

import fcntl
import subprocess
from functools import cache
from pathlib import Path

from harness.agent_env import agent_env
from harness.npm_tools import COPILOT_PACKAGE, TOOLS_DIR, locked_version, npm_bin

CACHE_DIR = TOOLS_DIR / "copilot-cache"


@cache
def copilot_bin() -> Path | None:
    """The `copilot` binary, installing the lock into .tools/ and unpacking its runtime into the shared cache
    on first use; None without npm."""
    binary = npm_bin(COPILOT_PACKAGE, "copilot")
    if binary is None:
        return None
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".unpack.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        version = subprocess.run([str(binary), "--version"], env={**base_env(CACHE_DIR / "home")},
                                 capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if locked_version(COPILOT_PACKAGE) not in version.stdout:
        raise RuntimeError(f"copilot --version said {version.stdout!r} {version.stderr[-500:]!r}")
    return binary


def copilot_sessions(home: Path) -> Path:
    """Where the CLI keeps its sessions for this HOME (bashgym's default Copilot root)."""
    return home / ".copilot" / "session-state"


def base_env(home: Path) -> dict[str, str]:
    return agent_env(home, {"XDG_CACHE_HOME": str(CACHE_DIR), "COPILOT_AUTO_UPDATE": "false",
                            "COPILOT_OFFLINE": "true"})


def copilot_env(home: Path, base_url: str, model: str) -> dict[str, str]:
    return {**base_env(home), "COPILOT_PROVIDER_BASE_URL": base_url, "COPILOT_PROVIDER_API_KEY": "dummy",
            "COPILOT_MODEL": model}


def run_copilot(
    copilot: Path, prompt: str, *, home: Path, cwd: Path, base_url: str, model: str,
    extra_args: list[str] | None = None, extra_env: dict[str, str] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`copilot -p PROMPT --allow-all --output-format json --no-auto-update` in cwd with stdin closed."""
    args = [str(copilot), "-p", prompt, "--allow-all", "--output-format", "json", "--no-auto-update",
            "--disable-client-telemetry", *(extra_args or [])]
    return subprocess.run(args, cwd=cwd, env={**copilot_env(home, base_url, model), **(extra_env or {})},
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
