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
    objs = opencode_objects()
    info = objs["session"]
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(SCHEMAS[schema])
    db.execute("INSERT INTO project (id, worktree, time_created, time_updated, sandboxes) VALUES (?, ?, ?, ?, ?)",
               (info["projectID"], info["directory"], T0, T0, "[]"))
    db.execute("INSERT INTO session (id, project_id, parent_id, slug, directory, title, version, time_created, "
               "time_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (info["id"], info["projectID"], info.get("parentID"), info["slug"], info["directory"], info["title"],
                info["version"], info["time"]["created"], info["time"]["updated"]))
    for msg, parts in objs["messages"]:
        insert_message(db, msg, parts)
    db.commit()
    db.close()
    return path
