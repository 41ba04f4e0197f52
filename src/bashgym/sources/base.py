"""What every source format provides to the importer: where its files are and how to parse them.

A source is a small object with a name, the `source` value its sessions carry, a default root, a way to
find its files, and a parser from a file's lines to canonical Sessions. The importer
(`bashgym.sources.importer`) does everything else the same way for all sources: offsets, raw-line storage,
idempotence, corrupt-line reporting, progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from bashgym.schema import Session, Step, Turn

# (line number, raw bytes of the line without its newline)
Line = tuple[int, bytes]
# skip_line(data, start, stop): is data[start:stop] a line the format never needs? Answered without parsing
# or copying it; such lines are still kept raw, only not handed to parse().
SkipLine = Callable[[bytes, int, int], bool]


@dataclass
class ParsedFile:
    """What a parser made of a file: sessions and the lines it could not use, with why."""

    sessions: list[Session] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


class TurnBuilder:
    """Accumulates one session's turns from a source's records, in order. Parsers subclass it with their
    record handlers and reset their per-turn state in `turn_opened`."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.turn: Turn | None = None

    def ensure_turn(self, timestamp: str | None) -> Turn:
        """The open turn; steps before any user prompt go into a turn with an empty prompt."""
        if self.turn is None:
            self.new_turn("", timestamp)
        assert self.turn is not None
        return self.turn

    def new_turn(self, prompt: str, timestamp: str | None) -> Turn:
        self.turn = Turn(index=len(self.session.turns), prompt=prompt, started_at=timestamp, ended_at=timestamp)
        self.session.turns.append(self.turn)
        self.turn_opened(self.turn)
        return self.turn

    def turn_opened(self, turn: Turn) -> None:
        """Hook: a new turn has started."""

    def add(self, step: Step) -> None:
        turn = self.ensure_turn(step.timestamp)
        turn.steps.append(step)
        if step.timestamp:
            turn.ended_at = step.timestamp


class SourceFormat(Protocol):
    name: str  # CLI name: `bashgym import <name>`
    source: str  # Session.source value
    line_based: bool  # JSONL appended over time (read incrementally) vs whole-file JSON documents
    # Optional `takes_views = True`: parse() accepts lines as memoryviews into the read buffer (no copy);
    # parsers that use bytes methods on lines leave it unset and get bytes.
    # Optional `skip_line: SkipLine`: lines the importer need not hand to parse() (kept raw all the same).

    def default_root(self) -> Path: ...

    def discover(self, root: Path) -> list[Path]: ...

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile: ...


def iso_from_epoch_ms(value: float | int | None) -> str | None:
    """ISO-8601 UTC text from epoch milliseconds (OpenCode, Gemini store times this way)."""
    if value is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(value) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def discover_files(root: Path, pattern: str) -> list[Path]:
    """Files under root matching a glob (root itself when it is a file), sorted for stable progress."""
    if root.is_file():
        return [root]
    if not root.exists():
        return []
    return sorted(p for p in root.rglob(pattern) if p.is_file())


def read_json_entry(path: Path) -> dict[str, Any]:
    """A bundle entry for one JSON file: {file, data}, or {file, error} when it is not valid JSON."""
    raw = path.read_bytes()
    try:
        return {"file": str(path), "data": orjson.loads(raw)}
    except orjson.JSONDecodeError as exc:
        return {"file": str(path), "error": f"invalid JSON ({exc})"}


def bundle_bytes(entries: list[dict[str, Any]]) -> bytes:
    """Bundle entries as JSONL."""
    return b"\n".join(orjson.dumps(x) for x in entries) + b"\n"


def write_bundle(cache: Path, sid: str, data: bytes) -> Path:
    """A session's bundle file, `cache/<sid>.jsonl`, rewritten only when its bytes changed (so the importer
    skips it otherwise).

    Formats that spread one session over many files (OpenCode's storage, OpenHands' event files) gather them
    into one bundle per session at discovery; the importer then treats the bundle as the session's file:
    unchanged sessions are skipped, raw lines are kept for re-derivation, and a corrupt entry is reported
    naming its own file."""
    target = cache / f"{sid}.jsonl"
    try:
        same = target.read_bytes() == data
    except OSError:
        same = False
    if not same:
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def json_objects(lines: Iterable[Line], errors: list[tuple[int, str]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of JSONL lines; blank lines are passed over, a line that is not a JSON object is
    recorded in `errors` with its number and why, never fatal."""
    for line_no, raw in lines:
        if not raw:
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            text = bytes(raw)
            if text.strip():  # a blank line is no error
                errors.append((line_no, f"invalid JSON ({exc}); line starts {text[:60]!r}"))
            continue
        if not isinstance(obj, dict):
            errors.append((line_no, f"expected a JSON object, got {type(obj).__name__}"))
            continue
        yield line_no, obj
