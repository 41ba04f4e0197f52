"""OpenCode's SQLite store (`opencode.db`, OpenCode 1.2.0 and later, also 2.x) read as session bundles.

OpenCode 1.2.0 moved its JSON storage into one SQLite database under its data dir (drizzle tables in
anomalyco/opencode `packages/core/src/session/sql.ts`, first created by migration
`20260127222353_familiar_lady_ursula`; see docs/formats.md):
- `session` row: one column per Session.Info field (`id`, `project_id`, `workspace_id`, `parent_id`, `slug`,
  `directory`, `title`, `version`, `share_url`, `summary_*`, `revert`, `permission`, `time_created`,
  `time_updated`, `time_compacting`, `time_archived`, later also cost/tokens/agent/model columns).
- `message` row: `id`, `session_id`, `time_created`, `time_updated`, `data` = the MessageV2.Info JSON without
  `id` and `sessionID`.
- `part` row: `id`, `message_id`, `session_id`, `time_created`, `time_updated`, `data` = the MessageV2.Part JSON
  without `id`, `sessionID` and `messageID`.
Times are epoch milliseconds. Ids sort in creation order, as in the JSON storage.

This module puts the removed ids back, so every message and part is the same object the JSON storage holds
and `opencode.parse_bundle` maps both alike.

OpenCode 2.x (same file) writes sessions to `session_v2` (`session` in pre-rename betas and
`opencode-next.db`) and each session's history to `session_message`: one row per message (`id`, `session_id`,
`type`, `seq`, `time_created`, `time_updated`, `data` = the message's whole current state without `id` and
`type`), updated in place, ordered by `seq` (older dev tables have none: `time_created, id`). There is no part
table: assistant text, reasoning and tool calls with their results are the row's `content` array. Each row
becomes a v1-shaped message entry (and parts), see `row_entries`; a session with `session_message` rows is read
from them, also when its 1.x copy is still in `message`/`part` (OpenCode 2 migrates 1.x sessions under the
same id). Research and citations: docs/formats.md. The database is opened read-only through a `mode=ro` URI with
`query_only` on: the database and its `-wal` are never written, copied or left locked (only the shared-memory
`-shm` index, which every WAL reader updates, is touched); one read transaction gives a consistent view
while OpenCode keeps writing (its database runs in WAL mode). SQL here reads a foreign file; bashgym's own
store is still spoken to only through store.py.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from bashgym.errors import BashgymError

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def database_paths(data_dir: Path, use_env: bool = True) -> list[Path]:
    """OpenCode's databases in its data dir: `$OPENCODE_DB` when set and use_env (absolute, or relative to
    the data dir, as OpenCode reads it), else `opencode.db` (release channels) and `opencode-<channel>.db`
    (other channels)."""
    override = os.environ.get("OPENCODE_DB") if use_env else None
    if override and override != ":memory:":
        path = Path(override) if os.path.isabs(override) else data_dir / override
        return [path] if path.is_file() else []
    if not data_dir.is_dir():
        return []
    return sorted(p for p in data_dir.glob("opencode*.db") if p.is_file() and is_sqlite_file(p))


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that never writes or copies the user's database.

    While its `-wal`/`-shm` files exist a `mode=ro` reader shares them (WAL readers never block the writer;
    like any WAL reader it updates the `-shm` index, never the database or the `-wal`). OpenCode 1.18 exits
    without checkpointing, so its rows may all still be in the `-wal`. When there is no `-wal` file every committed row is in the main
    file; it is then opened `immutable`, which takes no lock and creates no side files (a plain read-only
    open of a WAL database would leave empty `-wal`/`-shm` files behind)."""
    resolved = path.resolve()
    wal = Path(f"{resolved}-wal").exists()
    uri = f"file:{quote(str(resolved))}?mode=ro" + ("" if wal else "&immutable=1")
    try:
        db = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA query_only = ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise BashgymError(f"{path}: cannot read it as OpenCode's SQLite database ({exc}); pass OpenCode's "
                           "data dir or its storage/ directory instead, or check the file") from exc
    db.row_factory = sqlite3.Row
    return db


def row_ref(db_path: Path, table: str, row_id: object) -> str:
    """How a row is named in bundles and error reports: the database file, the table and the row id."""
    return f"{db_path} [{table} {row_id}]"


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def _decoded(ref: str, raw: Any, restore: dict[str, Any]) -> dict[str, Any]:
    """A row's `data` JSON with the ids json-migration took out put back, or the error naming the row."""
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError) as exc:
        return {"file": ref, "error": f"invalid JSON in column data ({exc})"}
    if not isinstance(data, dict):
        return {"file": ref, "error": f"column data is a JSON {type(data).__name__}, not an object"}
    return {"file": ref, "data": {**restore, **data}}


def _json_column(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def session_info(row: sqlite3.Row) -> dict[str, Any]:
    """Session.Info from a `session` row (the inverse of json-migration's mapping); absent columns, as in
    databases made by older releases, are left out."""
    cols = set(row.keys())
    get = lambda name: row[name] if name in cols else None  # noqa: E731 - tiny local accessor
    info: dict[str, Any] = {"id": row["id"], "slug": get("slug"), "projectID": get("project_id"),
                            "directory": get("directory"), "title": get("title"), "version": get("version")}
    for key, col in (("workspaceID", "workspace_id"), ("parentID", "parent_id"), ("path", "path")):
        if get(col) is not None:
            info[key] = get(col)
    if get("share_url"):
        info["share"] = {"url": get("share_url")}
    summary = {k: get(f"summary_{k}") for k in ("additions", "deletions", "files")}
    if any(v is not None for v in summary.values()):
        info["summary"] = {k: v for k, v in summary.items() if v is not None}
    for key in ("revert", "permission"):
        if get(key) is not None:
            info[key] = _json_column(get(key))
    time = {"created": get("time_created"), "updated": get("time_updated")}
    for key in ("compacting", "archived"):
        if get(f"time_{key}") is not None:
            time[key] = get(f"time_{key}")
    info["time"] = time
    return {k: v for k, v in info.items() if v is not None}


# ------------------------------------------------------------------------------------------ OpenCode 2.x rows

def _texts(content: Any) -> str | None:
    """A tool result's `content` items' text, concatenated (a newline put between items that lack one)."""
    if not isinstance(content, list):
        return None
    out = ""
    for item in content:
        if isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            out += ("\n" if out and not out.endswith("\n") else "") + item["text"]
    return out


def _tool_part(item: dict[str, Any]) -> dict[str, Any]:
    """A 2.x `tool` content item as a v1 ToolPart: streaming/running → running, the result's text items →
    output, error {type, message} → error (message) + errorType, metadata (older rows: structured)."""
    state = item.get("state") if isinstance(item.get("state"), dict) else {}
    status = state.get("status")
    times = item.get("time") if isinstance(item.get("time"), dict) else {}
    v1: dict[str, Any] = {"status": "running" if status in ("streaming", "running") else status,
                          "input": state.get("input")}
    output = _texts(state.get("content"))
    if output is not None or status == "completed":
        v1["output"] = output or ""
    error = state.get("error")
    if error is not None:
        v1["error"] = error.get("message") if isinstance(error, dict) else str(error)
        if isinstance(error, dict) and error.get("type"):
            v1["errorType"] = error["type"]
    metadata = state.get("metadata") if isinstance(state.get("metadata"), dict) else state.get("structured")
    if isinstance(metadata, dict):
        v1["metadata"] = metadata
    start = times.get("ran") or times.get("created")  # `ran`: the call started executing
    v1["time"] = {k: v for k, v in (("start", start), ("end", times.get("completed"))) if v is not None}
    return {"type": "tool", "callID": item.get("id"), "tool": item.get("name"), "state": v1}


def _content_part(item: dict[str, Any]) -> dict[str, Any] | None:
    kind = item.get("type")
    if kind == "text":
        part = {"type": "text", "text": item.get("text") or ""}
        return part | ({"synthetic": True} if item.get("synthetic") else {})
    if kind == "reasoning":
        times = item.get("time") if isinstance(item.get("time"), dict) else {}
        span = {k: v for k, v in (("start", times.get("created")), ("end", times.get("completed"))) if v is not None}
        return {"type": "reasoning", "text": item.get("text") or "", "time": span}
    if kind == "tool":
        return _tool_part(item)
    return None


def _user(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": data.get("text") or ""}]
    for f in data.get("files") or []:
        if isinstance(f, dict):
            source = f.get("source") if isinstance(f.get("source"), dict) else {}
            parts.append({"type": "file", "mime": f.get("mime"), "filename": f.get("name"),
                          "url": f.get("uri") or source.get("uri")})
    return {"role": "user", "time": data.get("time")}, parts


def _assistant(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    msg: dict[str, Any] = {"role": "assistant", "time": data.get("time"), "agent": data.get("agent"),
                           "modelID": model.get("id"), "providerID": model.get("providerID"),
                           "tokens": data.get("tokens"), "cost": data.get("cost"), "finish": data.get("finish")}
    error = data.get("error")
    if isinstance(error, dict):  # v1's {name, data: {message}}
        msg["error"] = {"name": error.get("type"), "data": {"message": error.get("message")}}
    elif error is not None:
        msg["error"] = {"name": str(error)}
    content = data.get("content") if isinstance(data.get("content"), list) else []
    parts = [p for p in (_content_part(c) for c in content if isinstance(c, dict)) if p is not None]
    return {k: v for k, v in msg.items() if v is not None}, parts


def row_entries(ref: str, sid: str, mid: str, kind: str, raw: Any) -> list[dict[str, Any]]:
    """One `session_message` row as bundle entries: a v1-shaped message (ids put back) and its parts.

    `user` and `assistant` rows become v1 user/assistant messages with text, reasoning, tool and file parts.
    Rows v1 had no message for (`shell`, `synthetic`, `system`, `skill`, `compaction`, `idle`, the
    `*-switched` rows) keep their `data` with the row type as `role`; `opencode.parse_bundle` maps them."""
    decoded = _decoded(ref, raw, {})
    if "error" in decoded:
        return [dict(decoded, kind="message")]
    data = decoded["data"]
    ids = {"id": mid, "sessionID": sid}
    if kind == "user":
        msg, parts = _user(data)
    elif kind == "assistant":
        msg, parts = _assistant(data)
    else:
        msg, parts = {**data, "role": kind}, []
    lines = [{"file": ref, "data": {**ids, **msg}, "kind": "message"}]
    for i, part in enumerate(parts):
        part_ids = {"id": f"{mid}.{i}", "sessionID": sid, "messageID": mid}
        lines.append({"file": ref, "data": {**part_ids, **part}, "kind": "part", "message": mid})
    return lines


def _v2_orphans(db: sqlite3.Connection, table: str | None) -> int:
    """Sessions with `session_message` rows but no row in the session table (none is there to read)."""
    if table is None:
        return db.execute("SELECT count(DISTINCT session_id) FROM session_message").fetchone()[0]
    return db.execute("SELECT count(DISTINCT session_id) FROM session_message sm WHERE NOT EXISTS "
                      f"(SELECT 1 FROM {table} s WHERE s.id = sm.session_id)").fetchone()[0]


def _v2_bundle(db: sqlite3.Connection, db_path: Path, table: str, srow: sqlite3.Row, order: str,
               v1_messages: bool) -> list[dict[str, Any]]:
    """One OpenCode 2.x session: its session row, then each `session_message` row (in `order`) translated by
    `row_entries`; plus an error entry when 1.x kept writing the session after the migration."""
    sid = srow["id"]
    info = session_info(srow)
    rows = db.execute("SELECT id, type, time_created, time_updated, data FROM session_message "
                      f"WHERE session_id = ? ORDER BY {order}", (sid,)).fetchall()
    if rows:  # the session row's time_updated does not move with every message
        times = (info["time"].get("updated"), *(r["time_updated"] for r in rows))
        info["time"]["updated"] = max(t for t in times if isinstance(t, int | float))
    lines: list[dict[str, Any]] = [{"file": row_ref(db_path, table, sid), "data": info, "kind": "session"}]
    for row in rows:
        lines.extend(row_entries(row_ref(db_path, "session_message", row["id"]), sid, row["id"], row["type"],
                                 row["data"]))
    if v1_messages and rows:
        newest = max(r["time_created"] for r in rows)
        newer = db.execute("SELECT count(*) FROM message WHERE session_id = ? AND time_created > ?",
                           (sid, newest)).fetchone()[0]
        if newer:
            lines.append({"file": row_ref(db_path, "message", f"({newer} newer than session_message)"),
                          "error": f"{newer} messages of this session are only in OpenCode 1.x's message table "
                                   "(written after OpenCode 2 copied the session) and were not imported"})
    return lines


Bundles = Iterator[tuple[str, list[dict[str, Any]]]]


def _v2_bundles(db: sqlite3.Connection, db_path: Path, tables: set[str]) -> Bundles:
    """OpenCode 2.x sessions: `session_v2` rows, or (pre-rename betas, `opencode-next.db`) `session` rows that
    have `session_message` rows. An empty `session_v2` row whose id is also a 1.x session is left to the v1
    reader."""
    table = "session_v2" if "session_v2" in tables else "session" if "session" in tables else None
    orphans = _v2_orphans(db, table)
    if orphans:
        yield f"unread-{db_path.stem}", [{
            "file": row_ref(db_path, "session_message", f"({orphans} sessions)"),
            "error": f"{orphans} sessions have session_message rows but no row in table {table or 'session_v2'}; "
                     "their messages were not imported"}]
    if table is None:
        return
    order = "seq, id" if "seq" in _columns(db, "session_message") else "time_created, id"
    with_rows = {r[0] for r in db.execute("SELECT DISTINCT session_id FROM session_message")}
    v1_ids = ({r[0] for r in db.execute("SELECT id FROM session")}
              if table == "session_v2" and "session" in tables else set())
    v1_messages = "message" in tables
    for srow in db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall():
        sid = srow["id"]
        if sid in with_rows or (table == "session_v2" and sid not in v1_ids):
            yield sid, _v2_bundle(db, db_path, table, srow, order, v1_messages)


def _v1_bundles(db: sqlite3.Connection, db_path: Path, skip: set[str]) -> Bundles:
    """OpenCode 1.x sessions (`session`, `message`, `part`) whose ids are not in skip."""
    part_by_session = "session_id" in _columns(db, "part")
    sessions = db.execute("SELECT * FROM session ORDER BY id").fetchall()
    for srow in sessions:
        sid = srow["id"]
        if sid in skip:
            continue
        lines: list[dict[str, Any]] = [
            {"file": row_ref(db_path, "session", sid), "data": session_info(srow), "kind": "session"}]
        parts: dict[str, list[sqlite3.Row]] = {}
        part_sql = ("SELECT id, message_id, data FROM part WHERE session_id = ? ORDER BY message_id, id"
                    if part_by_session else
                    "SELECT p.id, p.message_id, p.data FROM part p JOIN message m ON m.id = p.message_id "
                    "WHERE m.session_id = ? ORDER BY p.message_id, p.id")
        for prow in db.execute(part_sql, (sid,)):
            parts.setdefault(prow["message_id"], []).append(prow)
        for mrow in db.execute("SELECT id, data FROM message WHERE session_id = ? ORDER BY id", (sid,)):
            mid = mrow["id"]
            entry = _decoded(row_ref(db_path, "message", mid), mrow["data"], {"id": mid, "sessionID": sid})
            lines.append(dict(entry, kind="message"))
            for prow in parts.pop(mid, []):
                restore = {"id": prow["id"], "sessionID": sid, "messageID": mid}
                entry = _decoded(row_ref(db_path, "part", prow["id"]), prow["data"], restore)
                lines.append(dict(entry, kind="part", message=mid))
        for mid, orphans in parts.items():  # parts whose message row is gone: reported, not dropped silently
            for prow in orphans:
                lines.append({"file": row_ref(db_path, "part", prow["id"]),
                              "error": f"its message {mid} is not in table message"})
        yield sid, lines


def session_bundles(db_path: Path) -> Bundles:
    """(session id, bundle entries) for every session in one database, read in one transaction.

    Entries are those of `opencode.bundle_session`: the session, then each message followed by its parts;
    `file` names the database, table and row. A session with OpenCode 2.x `session_message` rows is read from
    those (the 2.x copy of a migrated session wins over its 1.x rows); other sessions from `message`/`part`.
    `session_message` rows of sessions without a session row are counted in one error entry (key
    `unread-<db>`) so the import reports them."""
    db = open_readonly(db_path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        db.execute("BEGIN")
        read: set[str] = set()
        if "session_message" in tables:
            for sid, lines in _v2_bundles(db, db_path, tables):
                read.add(sid)
                yield sid, lines
        if {"session", "message", "part"} <= tables:
            yield from _v1_bundles(db, db_path, read)
    finally:
        if db.in_transaction:
            db.execute("COMMIT")
        db.close()
