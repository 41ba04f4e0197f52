"""OpenCode's SQLite store (`opencode.db`, OpenCode 1.2.0 and later) read as session bundles.

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
and `opencode.parse_bundle` maps both alike. The database is opened read-only through a `mode=ro` URI with
`query_only` on: nothing is copied, written or left locked; one read transaction gives a consistent view
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

    While OpenCode has the database open its `-wal`/`-shm` files exist and a `mode=ro` reader shares them
    (WAL readers never block the writer). When there is no `-wal` file every committed row is in the main
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


def _unread_v2_sessions(db: sqlite3.Connection, tables: set[str]) -> int:
    """Sessions with rows in OpenCode 2's event-sourced `session_message` table but none in `message`."""
    if "session_message" not in tables:
        return 0
    if "message" not in tables:
        return db.execute("SELECT count(DISTINCT session_id) FROM session_message").fetchone()[0]
    return db.execute("SELECT count(DISTINCT session_id) FROM session_message sm WHERE NOT EXISTS "
                      "(SELECT 1 FROM message m WHERE m.session_id = sm.session_id)").fetchone()[0]


def session_bundles(db_path: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(session id, bundle entries) for every session in one database, read in one transaction.

    Entries are those of `opencode.bundle_session`: the session, then each message (id order) followed by
    its parts (id order); `file` names the database, table and row. Sessions kept only in OpenCode 2's
    `session_message` table are counted in one error entry (key `unread-<db>`) so the import reports them."""
    db = open_readonly(db_path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        db.execute("BEGIN")
        unread = _unread_v2_sessions(db, tables)
        if unread:
            yield f"unread-{db_path.stem}", [{
                "file": row_ref(db_path, "session_message", f"({unread} sessions)"),
                "error": f"{unread} sessions keep their messages only in OpenCode 2's session_message table, "
                         "which bashgym does not read yet; their messages were not imported"}]
        if not {"session", "message", "part"} <= tables:
            return
        part_by_session = "session_id" in _columns(db, "part")
        sessions = db.execute("SELECT * FROM session ORDER BY id").fetchall()
        for srow in sessions:
            sid = srow["id"]
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
    finally:
        if db.in_transaction:
            db.execute("COMMIT")
        db.close()
