"""Install and run the real Claude Code CLI headless, isolated in a temporary HOME.

Facts this builds on are in shared/notes/agent-cli-harness.md: `-p` with stream-json output, an
ANTHROPIC_BASE_URL pointing at the scripted server, IS_SANDBOX=1 so root may skip permission prompts, and a
working directory outside any git repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

TOOLS_DIR = Path(os.environ.get("BASHGYM_TEST_TOOLS", Path(__file__).resolve().parents[2] / ".tools"))
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
CODEX_PACKAGE = "@openai/codex"


def npm_bin(package: str, binary: str) -> Path | None:
    """Path of an npm package's binary, installing it into .tools/ on first use; None without npm."""
    path = TOOLS_DIR / "node_modules" / ".bin" / binary
    if path.exists():
        return path
    if shutil.which("npm") is None:
        return None
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(TOOLS_DIR), "--no-audit", "--no-fund", package],
        check=True, capture_output=True, timeout=600,
    )
    return path if path.exists() else None


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
