"""What `bashgym sync` reads and records on the machine that syncs: per target, the stamp of each thing
last pushed (a session's imported_at, its newest score, the newest label id...), and this machine's id."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from bashgym.store.base import Repo, upsert_sql
from bashgym.store.codec import decode_row, dumps
from bashgym.store.imports import SOURCE_FILE_SQL, SourceFileState

_MARK_SQL = upsert_sql("sync_state", "target, kind, key, stamp", "target, kind, key")


class SyncRepo(Repo):
    """sync_state on the pushing side; the reads that find what changed since the last push."""

    def machine_id(self) -> str:
        """A random id for this store, made once: labels pushed from here are told apart by it."""
        row = self.db.execute("SELECT stamp FROM sync_state WHERE target = '' AND kind = 'machine'").fetchone()
        if row:
            return str(row[0])
        with self.transaction():
            self.db.execute("INSERT INTO sync_state VALUES ('', 'machine', 'id', ?) ON CONFLICT DO NOTHING",
                            (uuid.uuid4().hex,))
        return str(self.db.execute(
            "SELECT stamp FROM sync_state WHERE target = '' AND kind = 'machine'").fetchone()[0])

    def sync_marks(self, target: str, kind: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT key, stamp FROM sync_state WHERE target = ? AND kind = ?", (target, kind))}

    def set_sync_marks(self, target: str, kind: str, marks: Iterable[tuple[str, str]]) -> None:
        """Record pushed stamps (one transaction: a kill leaves all or none of them)."""
        with self.transaction():
            self.db.executemany(_MARK_SQL, [(target, kind, key, stamp) for key, stamp in marks])

    def session_stamps(self) -> list[tuple[str, str, int]]:
        """(id, imported_at, n_steps) of every session, by id: a session changed when its stamp did."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT id, imported_at, n_steps FROM sessions ORDER BY id")]

    def score_stamps(self) -> dict[str, str]:
        """session id → its newest score's created_at."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT session_id, MAX(created_at) FROM scores GROUP BY session_id")}

    def scores_of(self, session_ids: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(session_ids), 500):
            part = session_ids[i:i + 500]
            out += [decode_row(r, json_dicts=("metrics",)) for r in self.db.execute(
                f"SELECT * FROM scores WHERE session_id IN ({','.join('?' * len(part))})", part)]
        return out

    def put_scores(self, rows: list[dict[str, Any]]) -> None:
        """Upsert score rows as they are (created_at kept): what a sync writes into the team store."""
        self.db.executemany(
            upsert_sql("scores", "session_id, turn_idx, scorer, total, tier, metrics, created_at",
                       "session_id, turn_idx, scorer"),
            [(r["session_id"], r["turn_idx"], r["scorer"], r["total"], r["tier"], dumps(r["metrics"]),
              r["created_at"]) for r in rows])

    def delete_scores_of(self, session_ids: list[str]) -> None:
        """Every scorer's rows of these sessions: a replaced session's scores were of its old content."""
        self.db.executemany("DELETE FROM scores WHERE session_id = ?", [(sid,) for sid in session_ids])

    def labels_after(self, label_id: int) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM labels WHERE id > ? ORDER BY id", (label_id,))]

    def put_synced_labels(self, rows: list[dict[str, Any]]) -> int:
        """Insert labels by origin (machine:id there); a label already pushed is not added twice."""
        cur = self.db.executemany(
            "INSERT INTO labels (session_id, turn_idx, label, tier, note, author, created_at, origin) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (origin) DO NOTHING",
            [(r["session_id"], r["turn_idx"], r["label"], r["tier"], r["note"], r["author"], r["created_at"],
              r["origin"]) for r in rows])
        return max(cur.rowcount, 0)

    def curation_rows_after(self, stamp: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(
            "SELECT * FROM curation_lists WHERE added_at > ? ORDER BY added_at, name, session_id", (stamp,))]

    def put_curation_rows(self, rows: list[dict[str, Any]]) -> int:
        cur = self.db.executemany(
            "INSERT INTO curation_lists (name, session_id, note, added_at) VALUES (?,?,?,?) "
            "ON CONFLICT (name, session_id) DO NOTHING",
            [(r["name"], r["session_id"], r["note"], r["added_at"]) for r in rows])
        return max(cur.rowcount, 0)

    def source_file_stamps(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT path, imported_at FROM source_files ORDER BY path")]

    def raw_chunk_rows(self, path: str) -> Iterator[tuple[Any, ...]]:
        """A file's raw chunks as stored (data compressed), in order."""
        yield from self.db.execute(
            "SELECT first_line, n_lines, start_offset, end_offset, data FROM raw_chunks WHERE path = ? "
            "ORDER BY first_line", (path,)).fetchall()

    def put_raw_files(self, files: list[tuple[SourceFileState, str, list[tuple[Any, ...]]]]) -> None:
        """Replace files' bookkeeping rows and raw chunks (compressed as given): (state, stamp, chunks) each.
        On PostgreSQL the chunks of every file go in one COPY."""
        paths = [(state.path,) for state, _, _ in files]
        for table in ("raw_chunks", "import_errors", "source_files"):  # as forget_source_file, in one go
            self.db.executemany(f"DELETE FROM {table} WHERE path = ?", paths)
        self.db.executemany(SOURCE_FILE_SQL, [
            (st.path, st.source, st.size, st.mtime, st.byte_offset, st.line_count, st.head_hash,
             dumps(st.session_ids), st.skipped_lines, stamp) for st, stamp, _ in files])
        rows = [(state.path, *c) for state, _, chunks in files for c in chunks]
        columns = ("path", "first_line", "n_lines", "start_offset", "end_offset", "data")
        if self.dialect == "postgresql":
            self.db.copy_rows("raw_chunks", columns, rows)
        else:
            self.db.executemany(f"INSERT INTO raw_chunks ({', '.join(columns)}) VALUES (?,?,?,?,?,?)", rows)

    def session_imported_at(self, session_id: str, *, lock: bool = False) -> str | None:
        """A session's version (its imported_at), or None. With `lock`, inside a transaction, a concurrent
        replacement of the session waits until this transaction ends (PostgreSQL: FOR UPDATE; SQLite's
        writers are serialized already): what a judge checks before writing scores."""
        sql = "SELECT imported_at FROM sessions WHERE id = ?"
        if lock and self.dialect == "postgresql":
            sql += " FOR UPDATE"
        row = self.db.execute(sql, (session_id,)).fetchone()
        return None if row is None else str(row[0])
