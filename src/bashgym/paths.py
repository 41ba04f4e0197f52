"""Where bashgym keeps its files. `BASHGYM_HOME` overrides `~/.bashgym`; tests and the demo always set it."""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    """The bashgym home directory (not created here)."""
    value = os.environ.get("BASHGYM_HOME")
    return Path(value).expanduser() if value else Path.home() / ".bashgym"


def check_home(home: Path | None = None) -> Path:
    """The bashgym home, refused early when it is a file: every command would fail later on it, deep inside."""
    from bashgym.errors import ConfigError

    home = home or home_dir()
    if home.exists() and not home.is_dir():
        raise ConfigError(f"the bashgym home {home} is a file, not a directory: pass --home (or set BASHGYM_HOME) "
                          "to a directory; a missing one is created")
    return home


def db_path(home: Path | None = None) -> Path:
    return (home or home_dir()) / "bashgym.db"


def events_dir(home: Path | None = None) -> Path:
    """Hook events land here: events.jsonl (one line per event) and errors.log (the hook's own failures)."""
    return (home or home_dir()) / "events"


def claude_home() -> Path:
    return Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
