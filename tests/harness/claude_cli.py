"""Install and run the real Claude Code CLI headless, isolated in a temporary HOME.

Facts this builds on are in shared/notes/agent-cli-harness.md: `-p` with stream-json output, an
ANTHROPIC_BASE_URL pointing at the scripted server, IS_SANDBOX=1 so root may skip permission prompts, and a
working directory outside any git repository.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# The CLI comes at the version tests/harness/package-lock.json records (harness/npm_tools.py).
from harness.npm_tools import CLAUDE_PACKAGE, CODEX_PACKAGE, TOOLS_DIR, npm_bin  # noqa: F401 - re-exported


def claude_env(home: Path, base_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "dummy",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "IS_SANDBOX": "1",
        "LANG": "C.UTF-8",
    }
    for key in ("BASHGYM_HOME",):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra or {})
    return env


def run_claude(
    claude: Path, prompt: str, *, home: Path, cwd: Path, base_url: str, extra_args: list[str] | None = None,
    env: dict[str, str] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    args = [str(claude), "-p", prompt, "--output-format", "stream-json", "--verbose",
            "--dangerously-skip-permissions", *(extra_args or [])]
    return subprocess.run(
        args, cwd=cwd, env=claude_env(home, base_url, env), capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def transcripts(home: Path) -> list[Path]:
    return sorted((home / ".claude" / "projects").rglob("*.jsonl"))
