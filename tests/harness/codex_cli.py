"""Install and run the real Codex CLI headless, isolated in a temporary HOME, against a scripted server.

Facts this builds on are in shared/notes/agent-cli-harness.md: a `fake` model provider in
`$HOME/.codex/config.toml` whose base_url is the scripted Responses server, `codex exec --json
--skip-git-repo-check --dangerously-bypass-approvals-and-sandbox PROMPT` with stdin closed, and rollouts
written to `$HOME/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.claude_cli import CODEX_PACKAGE, npm_bin  # noqa: F401 - re-exported for tests

CONFIG = """model = "{model}"
model_provider = "fake"

[model_providers.fake]
name = "fake"
base_url = "{base_url}/v1"
wire_api = "responses"
env_key = "FAKE_KEY"
request_max_retries = 0
stream_max_retries = 0
"""


def write_config(home: Path, base_url: str, model: str = "gpt-5-codex") -> Path:
    config = home / ".codex" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG.format(model=model, base_url=base_url))
    return config


def codex_env(home: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home / ".codex"),
        "FAKE_KEY": "dummy",
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    return env


def run_codex(
    codex: Path, prompt: str, *, home: Path, cwd: Path, base_url: str, extra_args: list[str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    write_config(home, base_url)
    args = [str(codex), "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
            *(extra_args or []), prompt]
    return subprocess.run(args, cwd=cwd, env=codex_env(home), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def rollouts(home: Path) -> list[Path]:
    return sorted((home / ".codex" / "sessions").rglob("rollout-*.jsonl"))
