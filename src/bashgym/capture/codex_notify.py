"""bashgym's hook as Codex's `notify` program in `~/.codex/config.toml` (`$CODEX_HOME` when set), and out again.

Codex CLI 0.169 runs the `notify` argv after every finished turn with one JSON object appended as the last
argument: {type: "agent-turn-complete", thread-id, turn-id, cwd, client, input-messages,
last-assistant-message} (seen with the real `codex exec`, tests/test_codex_hooks_e2e.py). It has room for one
notify program, so a user's own `notify` is never replaced: the install refuses and says so.

The file is TOML and the standard library only reads TOML, so the change is textual: one `notify = [...]` line
(JSON string syntax is valid TOML) and a comment above it, inserted at the top of the file (always the root
table), found again by the hook script's path. The result is parsed again before it is written.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bashgym.errors import ConfigError

EVENT = "agent-turn-complete"
COMMENT = "# bashgym live capture: `bashgym hooks uninstall --agent codex` removes the next line"


def config_path(project: bool = False, cwd: Path | None = None) -> Path:
    if project:
        return (cwd or Path.cwd()) / ".codex" / "config.toml"
    codex_home = os.environ.get("CODEX_HOME")
    return (Path(codex_home) if codex_home else Path.home() / ".codex") / "config.toml"


def _read(path: Path) -> tuple[str, dict]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or move the file, then rerun") from None


def _is_ours(value: object, marker: str) -> bool:
    return isinstance(value, list) and any(marker in str(v) for v in value)


def _without_ours(text: str, marker: str) -> str:
    lines = text.splitlines(keepends=True)
    kept = [ln for ln in lines if not (ln.lstrip().startswith("notify") and marker in ln)
            and ln.rstrip("\n") != COMMENT]
    return "".join(kept)


@dataclass
class ConfigChange:
    """A change to config.toml: the text before and after (same interface as install.SettingsChange)."""

    path: Path
    before: str
    after: str
    backup: Path | None = None
    written: bool = False
    events: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True),
                                            self.after.splitlines(keepends=True),
                                            f"{self.path} (now)", f"{self.path} (after)"))

    def text(self) -> str:
        return self.after


def installed_config(path: Path, argv: list[str], marker: str) -> ConfigChange:
    """config.toml with `notify = argv` (ours replaced, anything else kept); a foreign notify is an error."""
    text, data = _read(path)
    current = data.get("notify")
    if current is not None and not _is_ours(current, marker):
        raise ConfigError(f"{path}: notify is already set to {json.dumps(current)}; Codex runs one notify program, "
                          "so bashgym will not replace it: remove it (or call it from your own script) and rerun")
    body = _without_ours(text, marker)
    after = f"{COMMENT}\nnotify = {json.dumps(argv)}\n" + body
    if tomllib.loads(after).get("notify") != argv:  # never write what Codex would read otherwise
        raise ConfigError(f"{path}: could not add notify without changing its meaning; add it by hand: "
                          f"notify = {json.dumps(argv)}")
    return ConfigChange(path, text, after, events=[EVENT])


def removed_config(path: Path, marker: str) -> ConfigChange:
    text, _ = _read(path)
    return ConfigChange(path, text, _without_ours(text, marker))


def installed_events(path: Path, marker: str) -> dict[str, str]:
    """{"agent-turn-complete": command} when our notify is configured in this file."""
    try:
        _, data = _read(path)
    except (ConfigError, OSError):
        return {}
    notify = data.get("notify")
    return {EVENT: " ".join(map(str, notify))} if _is_ours(notify, marker) else {}


def rollout_of(thread_id: str, codex_home: Path | None = None) -> Path | None:
    """The rollout file of a Codex thread (`sessions/YYYY/MM/DD/rollout-<ts>-<thread id>.jsonl`), or None."""
    root = codex_home or config_path().parent
    found = sorted((root / "sessions").rglob(f"rollout-*-{thread_id}.jsonl"))
    return found[-1] if found else None
