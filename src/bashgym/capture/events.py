"""Read what the hook wrote: the event log (counts per event type, sessions seen) and its error log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bashgym.paths import events_dir


def events_file(home: Path | None = None) -> Path:
    return events_dir(home) / "events.jsonl"


def errors_file(home: Path | None = None) -> Path:
    return events_dir(home) / "errors.log"


@dataclass
class EventStats:
    total: int = 0
    by_event: Counter[str] = field(default_factory=Counter)
    unreadable: int = 0
    last_event_at: float | None = None
    sessions: set[str] = field(default_factory=set)
    # agent → event name → count (the hook marks other agents' lines with `_bashgym_agent`; unmarked: claude)
    by_agent: dict[str, Counter[str]] = field(default_factory=dict)
    sessions_by_agent: dict[str, set[str]] = field(default_factory=dict)


def iter_events(home: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every readable event, oldest first; unreadable lines are skipped (counted by `event_stats`)."""
    path = events_file(home)
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for line in fh:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


def event_stats(home: Path | None = None) -> EventStats:
    """Counts per event type; a line that is not a JSON object naming its event counts as unreadable."""
    stats = EventStats()
    path = events_file(home)
    if not path.exists():
        return stats
    with open(path, "rb") as fh:
        for line in fh:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            name = obj.get("hook_event_name") if isinstance(obj, dict) else None
            if not isinstance(name, str):
                stats.unreadable += 1
                continue
            stats.total += 1
            stats.by_event[name] += 1
            agent = obj.get("_bashgym_agent") if isinstance(obj.get("_bashgym_agent"), str) else "claude"
            stats.by_agent.setdefault(agent, Counter())[name] += 1
            if isinstance(obj.get("session_id"), str):
                stats.sessions.add(obj["session_id"])
                stats.sessions_by_agent.setdefault(agent, set()).add(obj["session_id"])
            if isinstance(obj.get("_bashgym_ts"), int | float):
                stats.last_event_at = float(obj["_bashgym_ts"])
    return stats


def last_errors(home: Path | None = None, n: int = 5) -> list[str]:
    path = errors_file(home)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[-n:]


def log_error(message: str, home: Path | None = None) -> None:
    """Append to the hook error log (used by the detached ingest process, which has no terminal)."""
    import time

    path = errors_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{stamp}\t{message}\n")
