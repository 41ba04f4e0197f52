"""OpenCode stored sessions (`~/.local/share/opencode/storage/`) → canonical Sessions.

Facts the parser relies on (sst/opencode, now anomalyco/opencode: `packages/opencode/src/session/message-v2.ts`,
`session/index.ts`, `storage/json-migration.ts`; see docs/formats.md):
- One JSON file per object: `session/<projectID>/<sessionID>.json` (Session.Info: id, projectID, directory,
  parentID, title, version, time {created, updated}), `message/<sessionID>/<messageID>.json` (role user:
  time, agent, model {providerID, modelID}; role assistant: parentID, modelID, providerID, path {cwd, root},
  cost, tokens {input, output, reasoning, cache {read, write}}, time {created, completed}, error, finish),
  `part/<messageID>/<partID>.json` (type text | reasoning | tool | file | step-start | step-finish | patch |
  snapshot | agent | subtask | compaction | retry). IDs sort in creation order.
- A tool part: {callID, tool, state: {status pending|running|completed|error, input, output | error,
  title, metadata, time {start, end}}}; the `bash` tool's metadata has `exit` (exit code) and `output`.
- Times are epoch milliseconds.

A session is spread over many files, and any of them may change, so discovery gathers each session's
files into one bundle (JSONL: the session, then its messages, then their parts, each tagged with the file it
came from) under $BASHGYM_HOME/cache/opencode/, rewritten only when its content changed. The importer then
treats the bundle as the session's file: unchanged sessions are skipped, raw lines are kept for re-derivation,
and a corrupt part is reported naming its own file.

OpenCode 1.2.0 and later keep the same objects in SQLite (`opencode.db` in the data dir); `opencode_db` reads
its rows into the same bundle entries (tagged with database, table and row id), so both stores go through
one parser. A session found in a database is taken from there; the JSON files (which OpenCode leaves behind
after migrating them) are read only for sessions no database holds. OpenCode 2.x `session_message` rows arrive
as the same entries; rows v1 had no message for carry their row type as `role` (`shell` = a command the
user ran with `!`, `synthetic` / `system` / `skill` notices, `compaction`, `idle` = end of turn with its
outcome, `*-switched` bookkeeping) and are mapped below.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from bashgym.paths import home_dir
from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.sources.base import (
    Line,
    ParsedFile,
    bundle_bytes,
    iso_from_epoch_ms,
    read_json_entry,
    write_bundle,
)
from bashgym.sources.opencode_db import database_paths, is_sqlite_file, session_bundles


def opencode_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "opencode"


class OpenCodeSource:
    name = "opencode"
    source = "opencode"
    line_based = False

    def default_root(self) -> Path:
        return opencode_data_dir()

    def discover(self, root: Path) -> list[Path]:
        return write_bundles(root, home_dir() / "cache" / "opencode")

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        data = b"\n".join(raw for _, raw in lines)
        return parse_bundle(path, data)


def _json_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def bundle_session(storage: Path, session_file: Path) -> bytes:
    """One session's files as bundle lines (see module docstring)."""
    lines = [dict(read_json_entry(session_file), kind="session")]
    sid = session_file.stem
    for message_file in _json_files(storage / "message" / sid):
        lines.append(dict(read_json_entry(message_file), kind="message"))
        for part_file in _json_files(storage / "part" / message_file.stem):
            lines.append(dict(read_json_entry(part_file), kind="part", message=message_file.stem))
    return bundle_bytes(lines)


def _storage_sessions(root: Path) -> tuple[Path, list[Path]] | None:
    """(storage dir, session files) for a storage dir, a data dir holding storage/, or one session file."""
    if root.is_file():
        return root.parents[2], [root]
    for storage in (root, root / "storage"):
        if (storage / "session").is_dir():
            return storage, sorted((storage / "session").glob("*/*.json"))
    return None


def write_bundles(root: Path, cache: Path) -> list[Path]:
    """Bundle every session under root; returns the bundle paths.

    root may be OpenCode's data dir (its `opencode*.db` databases and its storage/ directory), a storage
    directory, one session JSON file, or one database file."""
    root = root.expanduser()
    if root.is_file() and (root.suffix == ".db" or is_sqlite_file(root)):
        databases, storage = [root], None
    else:
        databases = database_paths(root, use_env=root == opencode_data_dir()) if root.is_dir() else []
        storage = _storage_sessions(root)
    if not databases and storage is None:
        return []
    cache.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for database in databases:
        for sid, entries in session_bundles(database):
            if sid not in out:
                out[sid] = write_bundle(cache, sid, bundle_bytes(entries))
    if storage is not None:
        storage_dir, session_files = storage
        for session_file in session_files:
            if session_file.stem not in out:
                out[session_file.stem] = write_bundle(cache, session_file.stem,
                                                       bundle_session(storage_dir, session_file))
    return list(out.values())


def _tool_step(part: dict[str, Any], model: str | None) -> Step:
    state = part.get("state") or {}
    status = state.get("status")
    times = state.get("time") or {}
    metadata = state.get("metadata") or {}
    step = Step(kind="tool_call", tool_name=part.get("tool"), call_id=part.get("callID"),
                input=state.get("input"), timestamp=iso_from_epoch_ms(times.get("start")), model=model)
    step.meta["status"] = status
    if status == "completed":
        step.output = state.get("output") if isinstance(state.get("output"), str) else ""
    elif status == "error":
        error = state.get("error") if isinstance(state.get("error"), str) else ""
        before = state.get("output") if isinstance(state.get("output"), str) else ""  # 2.x: text before failing
        step.output = before.removesuffix("\n") + "\n" + error if before and error else before or error
        step.is_error = True
        step.interrupted = state.get("errorType") == "tool.interrupted" or "aborted" in error.lower()
        if state.get("errorType"):
            step.meta["error_type"] = state["errorType"]
    else:
        step.meta["no_result"] = True
    if isinstance(times.get("start"), int | float) and isinstance(times.get("end"), int | float):
        step.duration_ms = int(times["end"] - times["start"])
    exit_code = metadata.get("exit")
    if isinstance(exit_code, int):
        step.exit_code = exit_code
        step.is_error = step.is_error or exit_code != 0
    elif step.tool_name == "bash" and status == "completed":
        step.exit_code = 0
    if state.get("title"):
        step.meta["title"] = state["title"]
    if metadata.get("diff"):
        step.meta["diff"] = metadata["diff"]
    if metadata.get("timeout") is True:  # 2.x shell: killed at its timeout, no exit code
        step.meta["timeout"] = True
        step.is_error = True
    child = metadata.get("sessionID") or metadata.get("sessionId")  # the subagent session a task call ran
    if isinstance(child, str):
        step.meta["subagent_session_id"] = child
    return step


def _user_shell_step(msg: dict[str, Any], ts: str | None) -> Step:
    """A 2.x `shell` row: a command the user ran with `!` (status running, exited, timeout or killed)."""
    status = msg.get("status")
    output = msg.get("output")
    step = Step(kind="tool_call", role="user", tool_name="shell", call_id=msg.get("shellID") or msg.get("callID"),
                input={"command": msg.get("command") or ""}, timestamp=ts,
                meta={"user_shell": True, "status": status})
    if status == "running":
        step.meta["no_result"] = True
    else:
        step.output = output.get("output") if isinstance(output, dict) else output if isinstance(output, str) else ""
        step.exit_code = msg.get("exit") if isinstance(msg.get("exit"), int) else None
        step.is_error = status in ("timeout", "killed") or bool(step.exit_code)
        step.interrupted = status == "killed"
    if isinstance(output, dict) and output.get("truncated"):
        step.meta["truncated"] = True
    times = msg.get("time") or {}
    if isinstance(times.get("created"), int | float) and isinstance(times.get("completed"), int | float):
        step.duration_ms = int(times["completed"] - times["created"])
    return step


# 2.x rows v1 had no message for (opencode_db.row_entries keeps the row type as `role`)
_NOTICE_ROWS = frozenset({"synthetic", "system", "skill"})  # harness-injected text: system steps, no new turn
_SKIPPED_ROWS = frozenset({"agent-switched", "model-switched", "location-switched"})


def _notice_step(msg: dict[str, Any], ts: str | None) -> Step:
    meta: dict[str, Any] = {"notice": msg.get("role")}
    if msg.get("description"):
        meta["description"] = msg["description"]
    if msg.get("role") == "skill":
        meta["skill"] = msg.get("name") or msg.get("skill")
    return Step(kind="message", role="system", text=msg.get("text") or "", timestamp=ts, meta=meta)


def _compaction(session: Session, turn: Turn, msg: dict[str, Any], ts: str | None) -> None:
    """A 2.x `compaction` row (status running, completed or failed): counted, its summary kept."""
    if msg.get("status") == "failed":
        session.meta["compactions_failed"] = session.meta.get("compactions_failed", 0) + 1
        return
    session.meta["compactions"] = session.meta.get("compactions", 0) + 1
    if msg.get("summary"):
        turn.steps.append(Step(kind="message", role="system", text=msg["summary"], timestamp=ts,
                               meta={"compact_summary": True}))


def _usage(tokens: Any) -> Usage:
    if not isinstance(tokens, dict):
        return Usage()
    cache = tokens.get("cache") or {}
    return Usage(input_tokens=int(tokens.get("input") or 0),
                 output_tokens=int(tokens.get("output") or 0) + int(tokens.get("reasoning") or 0),
                 cache_read_tokens=int(cache.get("read") or 0), cache_creation_tokens=int(cache.get("write") or 0))


def _assistant_parts(session: Session, turn: Turn, msg: dict[str, Any], parts: list[dict[str, Any]],
                     ts: str | None, models: dict[str, None]) -> None:
    """An assistant message's parts as steps of turn (reasoning, text, tools, subtasks, compactions)."""
    model = msg.get("modelID")
    if model:
        models[model] = None
    if not session.cwd and isinstance(msg.get("path"), dict):
        session.cwd = session.project = msg["path"].get("cwd")
    model_step = 0
    for part in parts:
        kind = part.get("type")
        if kind == "step-start":
            model_step += 1
        added = len(turn.steps)
        pts = iso_from_epoch_ms((part.get("time") or {}).get("start")) or ts
        if kind == "text" and not part.get("synthetic"):
            last = turn.steps[-1] if turn.steps else None
            if last is not None and last.kind == "message" and last.role == "assistant" and not last.text \
                    and last.thinking:
                last.text = part.get("text") or ""
            else:
                turn.steps.append(Step(kind="message", role="assistant", text=part.get("text") or "",
                                       timestamp=pts, model=model))
        elif kind == "reasoning":
            turn.steps.append(Step(kind="message", role="assistant", thinking=part.get("text") or "",
                                   timestamp=pts, model=model))
        elif kind == "tool":
            turn.steps.append(_tool_step(part, model))
        elif kind == "compaction":
            session.meta["compactions"] = session.meta.get("compactions", 0) + 1
        elif kind == "subtask":
            turn.steps.append(Step(kind="message", role="system", text=part.get("prompt") or "", timestamp=pts,
                                   meta={"subtask": part.get("agent"), "description": part.get("description")}))
        if msg.get("id") and kind in ("text", "reasoning", "tool"):
            for step in turn.steps[added:]:
                step.meta[MESSAGE_ID] = f"{msg['id']}#{model_step}"


def parse_bundle(path: str, data: bytes) -> ParsedFile:
    """A session bundle → its Session (messages in bundle order: id order, or `seq` order for OpenCode 2.x
    rows; parts in order within each message)."""
    result = ParsedFile()
    info: dict[str, Any] | None = None
    info_file = path
    messages: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    by_id: dict[str, list[dict[str, Any]]] = {}
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            result.errors.append((line_no, f"invalid bundle line ({exc})"))
            continue
        if entry.get("error") or not isinstance(entry.get("data"), dict):
            result.errors.append((line_no, f"{entry.get('file')}: {entry.get('error') or 'not a JSON object'}"))
            continue
        obj, kind = entry["data"], entry.get("kind")
        if kind == "session":
            info, info_file = obj, entry.get("file") or path
        elif kind == "message":
            parts: list[dict[str, Any]] = []
            messages.append((obj, parts))
            by_id[obj.get("id") or Path(entry.get("file", "")).stem] = parts
        elif kind == "part":
            parts = by_id.get(entry.get("message") or obj.get("messageID"))
            if parts is None:
                result.errors.append((line_no, f"{entry.get('file')}: part of an unknown message"))
            else:
                parts.append(obj)
    if info is None:
        return result
    session = Session(id=str(info.get("id") or Path(info_file).stem), source="opencode", source_path=info_file,
                      parent_id=info.get("parentID"), title=info.get("title") or None,
                      agent_version=info.get("version") or None, cwd=info.get("directory") or None)
    session.project = session.cwd
    times = info.get("time") or {}
    session.started_at = iso_from_epoch_ms(times.get("created"))
    session.ended_at = iso_from_epoch_ms(times.get("updated"))
    session.meta["project_id"] = info.get("projectID")
    if info.get("slug"):
        session.meta["slug"] = info["slug"]
    models: dict[str, None] = {}
    turn: Turn | None = None
    cost = 0.0
    for msg, parts in messages:
        role = msg.get("role")
        ts = iso_from_epoch_ms((msg.get("time") or {}).get("created"))
        if role == "user":
            texts = [p.get("text") or "" for p in parts if p.get("type") == "text" and not p.get("synthetic")]
            prompt = "\n".join(texts)
            turn = Turn(index=len(session.turns), prompt=prompt, started_at=ts, ended_at=ts,
                        meta={"message_id": msg.get("id"), "agent": msg.get("agent")})
            session.turns.append(turn)
            step = Step(kind="message", role="user", text=prompt, timestamp=ts)
            files = [{"mime": p.get("mime"), "filename": p.get("filename"), "url": p.get("url")}
                     for p in parts if p.get("type") == "file"]
            if files:
                step.meta["files"] = files
            turn.steps.append(step)
            continue
        if role in _SKIPPED_ROWS:
            continue
        if role == "idle":  # 2.x: the turn ended, with this outcome
            if turn is not None:
                turn.meta["outcome"] = msg.get("outcome")
                if ts:
                    turn.ended_at = max(turn.ended_at or ts, ts)
            continue
        if turn is None:
            turn = Turn(index=0, started_at=ts, ended_at=ts)
            session.turns.append(turn)
        if role == "shell":
            turn.steps.append(_user_shell_step(msg, ts))
            continue
        if role in _NOTICE_ROWS:
            turn.steps.append(_notice_step(msg, ts))
            continue
        if role == "compaction":
            _compaction(session, turn, msg, ts)
        else:
            _assistant_parts(session, turn, msg, parts, ts, models)
            if msg.get("error"):
                err = msg["error"]
                turn.meta["error"] = err.get("name") if isinstance(err, dict) else str(err)
        usage = _usage(msg.get("tokens"))
        turn.usage.add(usage)
        session.usage.add(usage)
        if isinstance(msg.get("cost"), int | float):
            cost += msg["cost"]
        done = iso_from_epoch_ms((msg.get("time") or {}).get("completed")) or ts
        if done:
            turn.ended_at = max(turn.ended_at or done, done)
    session.models = list(models)
    if cost:
        session.meta["cost_usd"] = round(cost, 6)
    result.sessions.append(session)
    return result
