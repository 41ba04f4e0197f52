"""Install and run the real Gemini CLI (npm `@google/gemini-cli` 0.61.x) headless, isolated in a temporary HOME,
against the scripted Gemini API server (harness/gemini_server.py) on 127.0.0.1.

What this builds on (measured with 0.61.0; docs/formats.md, Gemini section):
- `GOOGLE_GEMINI_BASE_URL` points @google/genai at the server. On its own it selects the `gateway` auth type,
  which `-p` mode then rejects ("Invalid auth method selected.", exit 41), so settings.json names
  `security.auth.selectedType: "gemini-api-key"` (with GEMINI_API_KEY=dummy); the base URL still applies.
- `security.folderTrust.enabled: false`, or the CLI overrides `--yolo` back to the default approval mode in an
  untrusted folder and the tools are refused.
- `-m <model>`: without it the CLI first asks a flash-lite router model (`:generateContent`) to pick one.
- No network but 127.0.0.1 (checked with strace): auto-update, update nag, usage statistics and telemetry
  are turned off in settings.json.
- `-p PROMPT -o json --yolo` with stdin closed (stdin, when open, is prepended to the prompt); stdout is one
  JSON object {session_id, response, stats}.
- The chat is recorded in `$HOME/.gemini/tmp/<project slug>/chats/session-<YYYY-MM-DDTHH-MM>-<id8>.jsonl`,
  next to `.project_root` (the project's absolute path).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness.agent_env import agent_env
from harness.npm_tools import GEMINI_PACKAGE, npm_bin

SETTINGS = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
}


def gemini_bin() -> Path | None:
    """The `gemini` binary, installing @google/gemini-cli into .tools/ on first use; None without npm."""
    return npm_bin(GEMINI_PACKAGE, "gemini")


def gemini_tmp(home: Path) -> Path:
    """Where the CLI keeps its per-project chats for this HOME (bashgym's default Gemini root)."""
    return home / ".gemini" / "tmp"


def write_settings(home: Path) -> Path:
    """The harness settings, unless this HOME has a settings.json already (a test that merged hooks into it)."""
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    if not settings.exists():
        settings.write_text(json.dumps(SETTINGS, indent=2))
    return settings


def gemini_env(home: Path, base_url: str) -> dict[str, str]:
    return agent_env(home, {"GEMINI_API_KEY": "dummy", "GOOGLE_GEMINI_BASE_URL": base_url,
                            "GEMINI_TELEMETRY_ENABLED": "false"})


def run_gemini(
    gemini: Path, prompt: str, *, home: Path, cwd: Path, base_url: str, model: str,
    extra_args: list[str] | None = None, timeout: float = 120, extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`gemini -p PROMPT -m MODEL -o json --yolo` in cwd with stdin closed."""
    write_settings(home)
    args = [str(gemini), "-p", prompt, "-m", model, "-o", "json", "--yolo", *(extra_args or [])]
    return subprocess.run(args, cwd=cwd, env={**gemini_env(home, base_url), **(extra_env or {})},
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def chats(home: Path) -> list[Path]:
    return sorted(gemini_tmp(home).rglob("chats/**/*.jsonl"))
