"""An OpenCode SQLite store (`opencode.db`) built from OpenCode's own schema, holding the same session as the
JSON-storage fixture in importer_fixtures.py.

No OpenCode client runs here, so the database is made the way OpenCode makes it (docs/formats.md names the
commits read):
- Tables: the columns and types of the drizzle tables `session`, `message`, `part` (and `project`, which
  session references) as drizzle-kit emits them. `SCHEMAS["1.2.0"]` is the first migration
  (`20260127222353_familiar_lady_ursula`, shipped in OpenCode 1.2.0); `SCHEMAS["current"]` is
  `packages/core/src/session/sql.ts` (anomalyco/opencode 02ce4a33), which added workspace, fork, path,
  metadata, usage, agent and model columns, the `session_message` table of OpenCode 2 and new indexes.
- Rows: what `storage/json-migration.ts` inserts for each JSON object: session fields spread over columns,
  `message.data` / `part.data` = the object without `id`, `sessionID` (and `messageID`), times in epoch ms.
- Pragmas: WAL journal, as OpenCode's database client sets.

OpenCode 2.x databases (`write_opencode2_db`, `write_migrated_db`, `write_prerename_db`) follow the research
in docs/formats.md: `session_v2` / `session_message` / `project` DDL as in the `sqlite_master` of a 2.0.25
database (= migration `20260804233008_loose_psylocke` plus later ALTER ADDs), and `session_message.data`
shaped like rows captured from OpenCode 0.0.0-beta-19381 / 2.0.12 (`packages/schema/src/session-message.ts`):
no `id`/`type` in `data`, times in epoch ms, one row per message updated in place, ordered by `seq`.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from importer_fixtures import T0, opencode_objects

_PROJECT = """CREATE TABLE `project` (
  `id` text PRIMARY KEY, `worktree` text NOT NULL, `vcs` text, `name` text, `icon_url` text, `icon_color` text,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `time_initialized` integer,
  `sandboxes` text NOT NULL);"""

_MESSAGE_PART = """CREATE TABLE `message` (
  `id` text PRIMARY KEY, `session_id` text NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `data` text NOT NULL,
  CONSTRAINT `fk_message_session_id_session_id_fk` FOREIGN KEY (`session_id`) REFERENCES `session`(`id`)
    ON DELETE CASCADE);
CREATE TABLE `part` (
  `id` text PRIMARY KEY, `message_id` text NOT NULL, `session_id` text NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `data` text NOT NULL,
  CONSTRAINT `fk_part_message_id_message_id_fk` FOREIGN KEY (`message_id`) REFERENCES `message`(`id`)
    ON DELETE CASCADE);"""

SCHEMAS = {
    "1.2.0": _PROJECT + """
CREATE TABLE `session` (
  `id` text PRIMARY KEY, `project_id` text NOT NULL, `parent_id` text, `slug` text NOT NULL,
  `directory` text NOT NULL, `title` text NOT NULL, `version` text NOT NULL, `share_url` text,
  `summary_additions` integer, `summary_deletions` integer, `summary_files` integer, `summary_diffs` text,
  `revert` text, `permission` text, `time_created` integer NOT NULL, `time_updated` integer NOT NULL,
  `time_compacting` integer, `time_archived` integer,
  CONSTRAINT `fk_session_project_id_project_id_fk` FOREIGN KEY (`project_id`) REFERENCES `project`(`id`)
    ON DELETE CASCADE);
""" + _MESSAGE_PART + """
CREATE INDEX `message_session_idx` ON `message` (`session_id`);
CREATE INDEX `part_message_idx` ON `part` (`message_id`);
CREATE INDEX `part_session_idx` ON `part` (`session_id`);
CREATE INDEX `session_project_idx` ON `session` (`project_id`);
CREATE INDEX `session_parent_idx` ON `session` (`parent_id`);
""",
    "current": _PROJECT + """
CREATE TABLE `session` (
  `id` text PRIMARY KEY, `project_id` text NOT NULL, `workspace_id` text, `parent_id` text,
  `fork_session_id` text, `fork_message_id` text, `slug` text NOT NULL, `directory` text NOT NULL,
  `path` text, `title` text NOT NULL, `version` text NOT NULL, `share_url` text,
  `summary_additions` integer, `summary_deletions` integer, `summary_files` integer, `summary_diffs` text,
  `metadata` text, `cost` real DEFAULT 0 NOT NULL, `tokens_input` integer DEFAULT 0 NOT NULL,
  `tokens_output` integer DEFAULT 0 NOT NULL, `tokens_reasoning` integer DEFAULT 0 NOT NULL,
  `tokens_cache_read` integer DEFAULT 0 NOT NULL, `tokens_cache_write` integer DEFAULT 0 NOT NULL,
  `revert` text, `permission` text, `agent` text, `model` text,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `time_compacting` integer,
  `time_archived` integer,
  CONSTRAINT `fk_session_project_id_project_id_fk` FOREIGN KEY (`project_id`) REFERENCES `project`(`id`)
    ON DELETE CASCADE);
""" + _MESSAGE_PART + """
CREATE TABLE `session_message` (
  `id` text PRIMARY KEY, `session_id` text NOT NULL, `type` text NOT NULL, `seq` integer NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `data` text NOT NULL,
  CONSTRAINT `fk_session_message_session_id_session_id_fk` FOREIGN KEY (`session_id`)
    REFERENCES `session`(`id`) ON DELETE CASCADE);
CREATE INDEX `session_project_idx` ON `session` (`project_id`);
CREATE INDEX `session_workspace_idx` ON `session` (`workspace_id`);
CREATE INDEX `session_parent_idx` ON `session` (`parent_id`);
CREATE INDEX `message_session_time_created_id_idx` ON `message` (`session_id`, `time_created`, `id`);
CREATE INDEX `part_message_id_id_idx` ON `part` (`message_id`, `id`);
CREATE INDEX `part_session_idx` ON `part` (`session_id`);
CREATE UNIQUE INDEX `session_message_session_seq_idx` ON `session_message` (`session_id`, `seq`);
""",
}

MIGRATED_AT = T0 + 60_000  # json-migration's `now`, for objects without their own times


def _without(obj: dict[str, Any], *keys: str) -> str:
    return json.dumps({k: v for k, v in obj.items() if k not in keys})


def insert_message(db: sqlite3.Connection, msg: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    """A message and its parts as json-migration inserts them."""
    times = msg.get("time") or {}
    db.execute("INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?)",
               (msg["id"], msg["sessionID"], times.get("created", MIGRATED_AT), times.get("updated", MIGRATED_AT),
                _without(msg, "id", "sessionID")))
    for part in parts:
        insert_part(db, part)


def insert_part(db: sqlite3.Connection, part: dict[str, Any]) -> None:
    times = part.get("time") or {}
    db.execute("INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               (part["id"], part["messageID"], part["sessionID"], times.get("created", MIGRATED_AT),
                times.get("updated", MIGRATED_AT), _without(part, "id", "sessionID", "messageID")))


def write_opencode_db(path: Path, schema: str = "current") -> Path:
    """opencode.db holding the fixture session of importer_fixtures.opencode_objects()."""
    db = _create(path, SCHEMAS[schema])
    insert_v1_session(db)
    db.commit()
    db.close()
    return path


def _create(path: Path, ddl: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(ddl)
    return db


def insert_v1_session(db: sqlite3.Connection) -> None:
    """The 1.x fixture session (project, session, messages, parts) as json-migration inserts it."""
    objs = opencode_objects()
    info = objs["session"]
    db.execute("INSERT INTO project (id, worktree, time_created, time_updated, sandboxes) VALUES (?, ?, ?, ?, ?)",
               (info["projectID"], info["directory"], T0, T0, "[]"))
    db.execute("INSERT INTO session (id, project_id, parent_id, slug, directory, title, version, time_created, "
               "time_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (info["id"], info["projectID"], info.get("parentID"), info["slug"], info["directory"], info["title"],
                info["version"], info["time"]["created"], info["time"]["updated"]))
    for msg, parts in objs["messages"]:
        insert_message(db, msg, parts)


# ------------------------------------------------------------------------------------------ OpenCode 2.x

PROJECT_V2 = """CREATE TABLE `project` (
  `id` text PRIMARY KEY, `worktree` text NOT NULL, `vcs` text, `name` text, `icon_url` text,
  `icon_url_override` text, `icon_color` text, `time_created` integer NOT NULL, `time_updated` integer NOT NULL,
  `time_initialized` integer, `time_active` integer DEFAULT 0 NOT NULL, `sandboxes` text NOT NULL, `commands` text
);
"""

SESSION_V2 = """CREATE TABLE `session_v2` (
  `id` text PRIMARY KEY,
  `project_id` text NOT NULL,
  `workspace_id` text,
  `parent_id` text,
  `fork_session_id` text,
  `fork_boundary` text,
  `slug` text NOT NULL,
  `directory` text NOT NULL,
  `path` text,
  `title` text,
  `version` text NOT NULL,
  `share_url` text,
  `summary_additions` integer,
  `summary_deletions` integer,
  `summary_files` integer,
  `summary_diffs` text,
  `metadata` text,
  `cost` real DEFAULT 0 NOT NULL,
  `tokens_input` integer DEFAULT 0 NOT NULL,
  `tokens_output` integer DEFAULT 0 NOT NULL,
  `tokens_reasoning` integer DEFAULT 0 NOT NULL,
  `tokens_cache_read` integer DEFAULT 0 NOT NULL,
  `tokens_cache_write` integer DEFAULT 0 NOT NULL,
  `revert` text,
  `permission` text,
  `agent` text,
  `model` text,
  `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL,
  `time_idle` integer,
  `time_viewed` integer,
  `idle_outcome` text,
  `time_compacting` integer,
  `time_archived` integer,
  `time_suspended` integer,
  `resume_attempts` integer DEFAULT 0 NOT NULL,
  CONSTRAINT `fk_session_v2_project_id_project_id_fk` FOREIGN KEY (`project_id`) REFERENCES `project`(`id`) ON DELETE CASCADE
);
CREATE INDEX `session_v2_project_idx` ON `session_v2` (`project_id`);
CREATE INDEX `session_v2_workspace_idx` ON `session_v2` (`workspace_id`);
CREATE INDEX `session_v2_parent_idx` ON `session_v2` (`parent_id`);
CREATE INDEX `session_v2_time_suspended_idx` ON `session_v2` (`time_suspended`) WHERE "session_v2"."time_suspended" is not null;
"""

SESSION_MESSAGE = """CREATE TABLE `session_message` (
  `id` text PRIMARY KEY,
  `session_id` text NOT NULL,
  `type` text NOT NULL,
  `seq` integer NOT NULL,
  `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL,
  `data` text NOT NULL,
  CONSTRAINT `fk_session_message_session_id_session_v2_id_fk` FOREIGN KEY (`session_id`) REFERENCES `session_v2`(`id`) ON DELETE CASCADE
);
CREATE UNIQUE INDEX `session_message_session_seq_idx` ON `session_message` (`session_id`,`seq`);
CREATE INDEX `session_message_session_type_seq_idx` ON `session_message` (`session_id`,`type`,`seq`);
CREATE INDEX `session_message_session_time_created_id_idx` ON `session_message` (`session_id`,`time_created`,`id`);
CREATE INDEX `session_message_time_created_idx` ON `session_message` (`time_created`);
"""

SCHEMA_V2 = PROJECT_V2 + SESSION_V2 + SESSION_MESSAGE

# A dev schema from before `20260603040000_session_message_projection_order`: no `seq`, FK to `session`.
SESSION_MESSAGE_NO_SEQ = """CREATE TABLE `session_message` (
  `id` text PRIMARY KEY, `session_id` text NOT NULL, `type` text NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `data` text NOT NULL,
  CONSTRAINT `fk_session_message_session_id_session_id_fk` FOREIGN KEY (`session_id`)
    REFERENCES `session`(`id`) ON DELETE CASCADE);
"""

T2 = 1790337600000  # epoch ms
PROJECT2 = "4b1f0c9e2d7a5b3c8e6f1a0d9c2b7e4f5a3d1c08"
MAIN = "ses_0f4a2c1d8ffeK3mZq9TbW2xYvN"
CHILD = "ses_0f4a2c1e5ffeChIlDaGeNt01x"
EMPTY = "ses_0f4a2c1f0ffeEmPtYsEsSiOn1"
GLM = {"id": "z-ai/glm-5.3-flash", "providerID": "openrouter", "variant": "default"}
HAIKU = {"id": "claude-haiku-4-5", "providerID": "anthropic", "variant": "default"}

# (id, type, seq, data) per session. Ids do not sort in seq order (assistant rows take the step's
# assistantMessageID), and the rows are inserted in reverse, so only `ORDER BY seq` gives the conversation.
Row = tuple[str, str, int, dict[str, Any]]


def _tokens(inp: int, out: int, reasoning: int = 0, read: int = 0, write: int = 0) -> dict[str, Any]:
    return {"input": inp, "output": out, "reasoning": reasoning, "cache": {"read": read, "write": write}}


def _assistant(created: int, completed: int | None, content: list[dict[str, Any]], *, model: dict[str, Any] = GLM,
               finish: str = "tool-calls", cost: float = 0.0, tokens: dict[str, Any] | None = None,
               **extra: Any) -> dict[str, Any]:
    time = {"created": created} | ({"streamed": completed - 10, "completed": completed} if completed else {})
    data = {"time": time, "agent": "build", "model": model, "content": content, "cost": cost,
            "tokens": tokens or _tokens(0, 0)} | extra
    if completed:
        data |= {"finish": finish, "rawFinish": finish.replace("-", "_")}
    return data


def _shell_call(call: str, command: str, output: str, exit_code: int, t: int) -> dict[str, Any]:
    content = ([{"type": "text", "text": output}] if output else []) + [
        {"type": "text", "text": f"Command exited with code {exit_code}."}]
    return {"type": "tool", "id": call, "name": "shell", "executed": False,
            "state": {"status": "completed", "input": {"command": command}, "content": content,
                      "metadata": {"status": "completed", "truncated": False, "exit": exit_code}},
            "time": {"created": t, "ran": t + 50, "completed": t + 450}}


def main_rows() -> list[Row]:
    """A native 2.0.14 session: two turns with every row type the importer maps."""
    t = T2
    return [
        ("msg_0f3e5c2a1001UsErPrOmPt01", "user", 4, {
            "time": {"created": t + 50}, "text": "Run the parser tests and tell me whether they pass.",
            "files": [{"uri": "file:///home/dev/parser/NOTES.md", "mime": "text/markdown", "name": "NOTES.md"}]}),
        ("msg_0f3e5c6f0001LkJhGfDsAzXcVb", "assistant", 5, _assistant(t + 1200, t + 5400, [
            {"type": "reasoning", "text": "I will run pytest on tests/test_parser.py.",
             "state": {"reasoningField": "reasoning"}, "time": {"created": t + 1900, "completed": t + 2600}},
            {"type": "text", "text": "Running the parser tests now."},
            _shell_call("call_01a9f3c2b7e84d5fa6c1e0b2", "python -m pytest -q tests/test_parser.py",
                        "3 passed in 0.41s\n", 0, t + 3100)],
            cost=0.0291, tokens=_tokens(9120, 96, 41))),
        ("msg_0f3e5b000001AaStEpTwOoOoO", "assistant", 9, _assistant(t + 5500, t + 7900, [
            _shell_call("call_02bfa1", "./scripts/check.sh", "beta failure check\n", 7, t + 5600),
            {"type": "tool", "id": "call_02timeout", "name": "shell",
             "state": {"status": "completed", "input": {"command": "sleep 100", "timeout": 1000},
                       "content": [{"type": "text", "text": "Command exceeded timeout of 1000 ms"},
                                   {"type": "text", "text": "Command timed out before completion."}],
                       "metadata": {"status": "completed", "truncated": False, "timeout": True}},
             "time": {"created": t + 6100, "ran": t + 6150, "completed": t + 7150}},
            {"type": "tool", "id": "call_03edit", "name": "edit",
             "state": {"status": "error", "input": {"path": "parser.py", "oldString": "x", "newString": "y"},
                       "error": {"type": "tool.execution", "message": "oldString not found in content"}},
             "time": {"created": t + 6500, "ran": t + 6600, "completed": t + 6650}}],
            cost=0.002, tokens=_tokens(200, 40, 0, 9050))),
        ("msg_0f3e5d000001SuBaGeNtCaLl1", "assistant", 12, _assistant(t + 8000, t + 9900, [
            {"type": "tool", "id": "call_04sub", "name": "subagent",
             "state": {"status": "completed",
                       "input": {"agent": "explore", "description": "Find tests", "prompt": "Find the parser tests."},
                       "content": [{"type": "text", "text": f'<subagent sessionID="{CHILD}" state="completed">\n'
                                                            "tests/test_parser.py\n</subagent>"}],
                       "metadata": {"sessionID": CHILD, "status": "completed"}},
             "time": {"created": t + 8100, "ran": t + 8150, "completed": t + 9800}}],
            cost=0.001, tokens=_tokens(100, 20))),
        ("msg_0f3e5a000001SyNtHeTiC0001", "synthetic", 13, {
            "time": {"created": t + 9950}, "text": '<shell id="sh_bg1" state="exited">\nlint ok\n</shell>',
            "description": "Background shell finished",
            "metadata": {"source": "shell", "shellID": "sh_bg1", "state": "exited", "exit": 0, "truncated": False}}),
        ("msg_0f3e5e000001FiNaLtExT0001", "assistant", 14, _assistant(t + 10000, t + 12010, [
            {"type": "text", "text": "The tests pass (3 passed) but ./scripts/check.sh exits 7."}],
            finish="stop", cost=0.004, tokens=_tokens(260, 58, 0, 9050))),
        ("msg_0f3e5e9c4001IdLeMaRkEr001", "idle", 19, {"time": {"created": t + 12100}, "outcome": "succeeded"}),
        ("msg_0f3e60000001MoDeLsWiTcH01", "model-switched", 20, {
            "time": {"created": t + 30000}, "model": HAIKU, "previous": GLM}),
        ("msg_0f3e61000001UsErPrOmPt02", "user", 21, {
            "time": {"created": t + 30100}, "text": "Fix the check so it exits 0.", "files": []}),
        ("msg_0f3e62000001SkIlLrOw00001", "skill", 22, {
            "time": {"created": t + 30200}, "skill": "debugging", "name": "Debugging",
            "text": "<skill>Reproduce first, then bisect.</skill>"}),
        ("msg_0f3e63000001SyStEmRoW0001", "system", 23, {
            "time": {"created": t + 30300}, "text": "The user switched the model to claude-haiku-4-5."}),
        ("msg_0f3e64000001CoMpAcTiOn001", "compaction", 24, {
            "time": {"created": t + 30400}, "status": "completed", "reason": "auto",
            "summary": "Summary: parser tests pass; ./scripts/check.sh exits 7.", "recent": "",
            "cost": 0.003, "tokens": _tokens(3000, 200)}),
        ("msg_0f3e65000001AsStEpInTeRr1", "assistant", 27, _assistant(t + 31000, None, [
            {"type": "text", "text": "Looking at the check script."},
            {"type": "tool", "id": "call_05int", "name": "shell",
             "state": {"status": "error", "input": {"command": "sleep 600"},
                       "content": [{"type": "text", "text": "partial output\n"}],
                       "error": {"type": "tool.interrupted", "message": "The tool was interrupted."}},
             "time": {"created": t + 31100, "ran": t + 31150, "completed": t + 39000}},
            {"type": "tool", "id": "call_06stream", "name": "edit",
             "state": {"status": "streaming", "input": '{"path": "scripts/check.sh", "oldStr'},
             "time": {"created": t + 39100}}],
            model=HAIKU, tokens=_tokens(500, 30), cost=0.0005,
            error={"type": "aborted", "message": "The operation was aborted."})),
        ("msg_0f3e66000001IdLeMaRkEr002", "idle", 30, {"time": {"created": t + 40000}, "outcome": "failed"}),
        ("msg_0f3e67000001UsErShElL0001", "shell", 31, {
            "time": {"created": t + 41000, "completed": t + 41250}, "shellID": "sh_01userbang",
            "command": "make check", "status": "exited", "exit": 2,
            "output": {"output": "check failed\n", "cursor": 13, "size": 13, "truncated": False}}),
    ]


def child_rows() -> list[Row]:
    """The subagent session the main session's `subagent` call ran."""
    t = T2 + 8200
    return [
        ("msg_0f3e5d100001ChIlDuSeR0001", "user", 1, {"time": {"created": t}, "text": "Find the parser tests."}),
        ("msg_0f3e5d200001ChIlDaSsT0001", "assistant", 2, _assistant(t + 100, t + 1400, [
            {"type": "tool", "id": "toolu_glob01", "name": "glob",
             "state": {"status": "completed", "input": {"pattern": "tests/test_parser*.py"},
                       "content": [{"type": "text", "text": "tests/test_parser.py"},
                                   {"type": "file", "uri": "file:///home/dev/parser/tests/test_parser.py",
                                    "mime": "text/x-python"},
                                   {"type": "text", "text": "(1 match)"}],
                       "metadata": {"count": 1, "truncated": False}},
             "time": {"created": t + 200, "completed": t + 260}},
            {"type": "text", "text": "Found tests/test_parser.py."}],
            model=HAIKU, finish="stop", cost=0.0001, tokens=_tokens(800, 12))),
        ("msg_0f3e5d300001ChIlDiDlE0001", "idle", 3, {"time": {"created": t + 1500}, "outcome": "succeeded"}),
    ]


def insert_v2_session(db: sqlite3.Connection, table: str, sid: str, *, title: str | None, version: str = "2.0.14",
                      parent: str | None = None, created: int = T2, directory: str = "/home/dev/parser",
                      project: str = PROJECT2) -> None:
    """A session row as 2.x writes it (`session_v2`; `session` in pre-rename betas)."""
    cols = {"id": sid, "project_id": project, "parent_id": parent, "slug": f"slug-{sid[-4:]}",
            "directory": directory, "title": title, "version": version, "time_created": created,
            "time_updated": created + 40}
    if table == "session_v2":
        cols |= {"path": "", "agent": "build", "model": json.dumps(GLM), "cost": 0.0331, "tokens_input": 9380}
    db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
               tuple(cols.values()))


def insert_rows(db: sqlite3.Connection, sid: str, rows: list[Row], seq: bool = True) -> None:
    """session_message rows as the projector writes them (`id`/`type` out of `data`), inserted in reverse."""
    for mid, kind, n, data in reversed(rows):
        upsert_row(db, sid, mid, kind, n, data, seq)


def upsert_row(db: sqlite3.Connection, sid: str, mid: str, kind: str, n: int, data: dict[str, Any],
               seq: bool = True) -> None:
    """Insert a row, or update it in place (`data`, `time_updated`) as the projector does while streaming."""
    created = data["time"]["created"]
    updated = max([created, *(v for v in data["time"].values() if isinstance(v, int))])
    if db.execute("SELECT 1 FROM session_message WHERE id = ?", (mid,)).fetchone():
        db.execute("UPDATE session_message SET data = ?, time_updated = ? WHERE id = ?",
                   (json.dumps(data), updated, mid))
    elif seq:
        db.execute("INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", (mid, sid, kind, n, created, updated, json.dumps(data)))
    else:
        db.execute("INSERT INTO session_message (id, session_id, type, time_created, time_updated, data) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (mid, sid, kind, created, updated, json.dumps(data)))


def _project_v2(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO project (id, worktree, vcs, time_created, time_updated, time_active, sandboxes) "
               "VALUES (?, '/home/dev/parser', 'git', ?, ?, ?, '[]')", (PROJECT2, T2 - 100000, T2, T2))


def write_opencode2_db(path: Path) -> Path:
    """An OpenCode 2.0.x opencode.db: the main session, its subagent child and an empty session."""
    db = _create(path, SCHEMA_V2)
    _project_v2(db)
    insert_v2_session(db, "session_v2", MAIN, title="Run the parser tests")
    insert_rows(db, MAIN, main_rows())
    insert_v2_session(db, "session_v2", CHILD, title="Find tests (@explore subagent)", parent=MAIN, created=T2 + 8150)
    insert_rows(db, CHILD, child_rows())
    insert_v2_session(db, "session_v2", EMPTY, title=None, created=T2 + 50000)
    db.commit()
    db.close()
    return path


def migrated_rows() -> list[Row]:
    """The 1.x fixture session as the V1→V2 import copies it (`transformSession`): dense seq, v1 tool names
    and metadata, v1 results as text content, v1 errors as `tool.execution`."""
    objs = opencode_objects()
    (user, uparts), (asst, aparts) = objs["messages"]
    content: list[dict[str, Any]] = []
    for part in aparts:
        if part["type"] in ("text", "reasoning"):
            times = part.get("time") or {}
            item = {"type": part["type"], "text": part["text"]}
            if part["type"] == "reasoning":
                item["time"] = {"created": times["start"], "completed": times["end"]}
            content.append(item)
        elif part["type"] == "tool":
            st = part["state"]
            state: dict[str, Any] = {"status": st["status"], "input": st["input"]}
            if st["status"] == "completed":
                state |= {"content": [{"type": "text", "text": st["output"]}], "metadata": st.get("metadata", {})}
            else:
                state |= {"error": {"type": "tool.execution", "message": st["error"]}}
            content.append({"type": "tool", "id": part["callID"], "name": part["tool"], "state": state,
                            "time": {"created": st["time"]["start"], "completed": st["time"]["end"]}})
    model = {"providerID": asst["providerID"], "id": asst["modelID"], "variant": "default"}
    return [
        (user["id"], "user", 0, {"text": uparts[0]["text"], "time": user["time"]}),
        (asst["id"], "assistant", 1, {"agent": "build", "model": model, "content": content, "finish": "stop",
                                      "cost": asst["cost"], "tokens": asst["tokens"], "time": asst["time"]}),
    ]


V1_AFTER = "ses_9z8y7x6w5vAFTERmIgRaTe01"


def write_migrated_db(path: Path) -> Path:
    """A 1.x database OpenCode 2 has migrated: the 1.x fixture session in `session`/`message`/`part` and its
    copy in `session_v2`/`session_message`; afterwards 1.x went on writing: two newer messages of that
    session and a new session (V1_AFTER), only in the 1.x tables."""
    db = _create(path, SCHEMAS["1.2.0"] + SESSION_V2 + SESSION_MESSAGE)
    insert_v1_session(db)
    info = opencode_objects()["session"]
    insert_v2_session(db, "session_v2", info["id"], title=info["title"], version=info["version"],
                      created=info["time"]["created"], directory=info["directory"], project=info["projectID"])
    insert_rows(db, info["id"], migrated_rows())
    insert_message(db, {"id": "msg_003", "sessionID": info["id"], "role": "user", "time": {"created": T0 + 20000}},
                   [{"id": "prt_100", "sessionID": info["id"], "messageID": "msg_003", "type": "text",
                     "text": "Now fix it"}])
    insert_message(db, {"id": "msg_004", "sessionID": info["id"], "role": "assistant", "modelID": "claude-sonnet-4-5",
                        "time": {"created": T0 + 21000, "completed": T0 + 22000}}, [])
    db.execute("INSERT INTO session (id, project_id, slug, directory, title, version, time_created, time_updated) "
               "VALUES (?, ?, 'late-owl', '/home/dev/app', 'After the migration', '1.18.40', ?, ?)",
               (V1_AFTER, info["projectID"], T0 + 90000, T0 + 91000))
    insert_message(db, {"id": "msg_101", "sessionID": V1_AFTER, "role": "user", "time": {"created": T0 + 90000}},
                   [{"id": "prt_101", "sessionID": V1_AFTER, "messageID": "msg_101", "type": "text",
                     "text": "Still on 1.x"}])
    db.commit()
    db.close()
    return path


NEXT = "ses_0e9b8a7f6ffeNeXtBeTa000001"


def next_rows() -> list[Row]:
    """A pre-rename beta session (0.0.0-beta-19381): the captured failing `shell` call (exit 7)."""
    t = T2 - 500000
    return [
        ("msg_0e9b8a800001UsEr00000001", "user", 1, {"time": {"created": t}, "text": "Run the beta check."}),
        ("msg_0e9b8a700001AsSt00000001", "assistant", 2, _assistant(t + 100, t + 900, [
            _shell_call("call_beta7", "./beta-check.sh", "beta failure check\n", 7, t + 200)],
            tokens=_tokens(300, 20))),
        ("msg_0e9b8a600001AsSt00000002", "assistant", 3, _assistant(t + 1000, t + 1500, [
            {"type": "text", "text": "The beta check fails with exit 7."}], finish="stop", tokens=_tokens(350, 15))),
    ]


def write_prerename_db(path: Path, seq: bool = True) -> Path:
    """A pre-rename beta database (or `opencode-next.db`): 2.x sessions in `session` next to 1.x ones, and
    `session_message` referencing `session` (with `seq`, or the older dev table without it)."""
    ddl = SCHEMAS["current"]
    if not seq:
        start = ddl.index("CREATE TABLE `session_message`")
        ddl = ddl[:start] + SESSION_MESSAGE_NO_SEQ + ddl[ddl.index("CREATE INDEX", start):]
        ddl = ddl.replace("CREATE UNIQUE INDEX `session_message_session_seq_idx` ON `session_message` "
                          "(`session_id`, `seq`);", "")
    db = _create(path, ddl)
    insert_v1_session(db)
    db.execute("INSERT INTO project (id, worktree, time_created, time_updated, sandboxes) VALUES (?, ?, ?, ?, ?)",
               (PROJECT2, "/home/dev/parser", T2, T2, "[]"))
    insert_v2_session(db, "session", NEXT, title="Beta check", version="0.0.0-beta-19381", created=T2 - 500000)
    insert_rows(db, NEXT, next_rows(), seq=seq)
    db.commit()
    db.close()
    return path
