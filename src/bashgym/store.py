"""The one place that speaks SQL: an embedded SQLite store (WAL) behind a small façade.

Every stage reads from and writes back to the store; nothing else opens the database. The SQL is kept
standard (no SQLite-only types) so a shared PostgreSQL store can take the same migrations later.

Migrations are functions `mNNN_what_it_does`, applied in order, each in one transaction together with
its record in the `migrations` table; they are append-only: never edit one that has shipped.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import zstandard

from bashgym.errors import BashgymError, NotFoundError
from bashgym.paths import db_path
from bashgym.schema import SCHEMA_VERSION, Session, Step, Turn, Usage

# ---------------------------------------------------------------------------------------------- migrations

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run several statements inside the caller's transaction (executescript would commit first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migration
def m001_sessions_turns_steps(db: sqlite3.Connection) -> None:
    """The canonical trace: one row per session, turn and step; JSON columns for open-ended fields.

    A step's output longer than COMPRESS_OUTPUT_CHARS is kept zstd-compressed in `output_z` (and `output`
    is NULL): tool outputs are most of a transcript's bytes, and writing them compressed more than halves
    the cost of an import. Store.get_session hands back the text either way.
    """
    run_script(db,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            project TEXT,
            cwd TEXT,
            git_branch TEXT,
            git_commit TEXT,
            models TEXT,
            started_at TEXT,
            ended_at TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
            parent_id TEXT,
            agent_version TEXT,
            title TEXT,
            source_path TEXT,
            n_turns INTEGER NOT NULL DEFAULT 0,
            n_steps INTEGER NOT NULL DEFAULT 0,
            n_tool_calls INTEGER NOT NULL DEFAULT 0,
            meta TEXT,
            schema_version INTEGER NOT NULL,
            imported_at TEXT NOT NULL
        );
        CREATE INDEX sessions_source ON sessions(source);
        CREATE INDEX sessions_started ON sessions(started_at);
        CREATE INDEX sessions_parent ON sessions(parent_id);
        CREATE INDEX sessions_path ON sessions(source_path);

        CREATE TABLE turns (
            session_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            prompt TEXT,
            started_at TEXT,
            ended_at TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
            meta TEXT,
            PRIMARY KEY (session_id, idx)
        );

        CREATE TABLE steps (
            session_id TEXT NOT NULL,
            turn_idx INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            kind TEXT NOT NULL,
            role TEXT,
            text TEXT,
            thinking TEXT,
            tool_name TEXT,
            call_id TEXT,
            input TEXT,
            output TEXT,
            is_error INTEGER NOT NULL DEFAULT 0,
            exit_code INTEGER,
            interrupted INTEGER NOT NULL DEFAULT 0,
            duration_ms INTEGER,
            timestamp TEXT,
            model TEXT,
            meta TEXT,
            output_z BLOB,
            PRIMARY KEY (session_id, turn_idx, idx)
        );
        """
    )


@migration
def m002_import_bookkeeping(db: sqlite3.Connection) -> None:
    """Incremental import: how far each source file was read, its raw lines (compressed), and bad lines.

    Raw lines are kept so a parser fix can re-derive every session without asking the user to capture
    again (`bashgym import --rederive`).
    """
    run_script(db,
        """
        CREATE TABLE source_files (
            path TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            byte_offset INTEGER NOT NULL,
            line_count INTEGER NOT NULL,
            head_hash TEXT,
            session_ids TEXT,
            skipped_lines INTEGER NOT NULL DEFAULT 0,
            imported_at TEXT NOT NULL
        );
        CREATE TABLE raw_chunks (
            path TEXT NOT NULL,
            first_line INTEGER NOT NULL,
            n_lines INTEGER NOT NULL,
            start_offset INTEGER NOT NULL,
            end_offset INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (path, first_line)
        );
        CREATE TABLE import_errors (
            path TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            error TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (path, line_no)
        );
        """
    )


@migration
def m003_scores_and_labels(db: sqlite3.Connection) -> None:
    """Judge output and human labels, kept apart: labels win over scores in the factory.

    turn_idx = -1 means the whole session.
    """
    run_script(db,
        """
        CREATE TABLE scores (
            session_id TEXT NOT NULL,
            turn_idx INTEGER NOT NULL,
            scorer TEXT NOT NULL,
            total REAL,
            tier TEXT,
            metrics TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (session_id, turn_idx, scorer)
        );
        CREATE INDEX scores_tier ON scores(tier);
        CREATE TABLE labels (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            turn_idx INTEGER NOT NULL,
            label TEXT,
            tier TEXT,
            note TEXT,
            author TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX labels_target ON labels(session_id, turn_idx);
        """
    )


@migration
def m004_datasets_runs_evals(db: sqlite3.Connection) -> None:
    """Lineage: what the factory built, what training and eval produced, so an adapter traces back to
    the sessions it learned from."""
    run_script(db,
        """
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            path TEXT NOT NULL,
            config TEXT,
            counts TEXT,
            content_hash TEXT,
            redacted INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE TABLE dataset_sessions (
            dataset_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            PRIMARY KEY (dataset_id, session_id)
        );
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            dataset_id TEXT,
            base_model TEXT,
            config TEXT,
            metrics TEXT,
            output_dir TEXT,
            created_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE TABLE evals (
            id TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            adapter_run_id TEXT,
            suite TEXT,
            k INTEGER,
            config TEXT,
            metrics TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE rollouts (
            eval_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            sample_idx INTEGER NOT NULL,
            session_id TEXT,
            reward REAL,
            status TEXT NOT NULL,
            detail TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (eval_id, task_id, sample_idx)
        );
        """
    )


# Each step's output is indexed up to this many characters: enough to find an error message, without
# letting one 50 MB log dominate the index.
SEARCH_OUTPUT_CHARS = 8000


@migration
def m005_session_search(db: sqlite3.Connection) -> None:
    """UI: full-text search over prompts, commands and outputs, and named curation lists.

    `session_search` holds one text body per session (kept in sync by `Store.save_session`); the FTS5
    index reads it as external content, so the text is stored once. Triggers keep the index in step with
    the body table. `curation_lists` is what a reviewer picked in the UI for a dataset build.
    (FTS5 is SQLite's; a PostgreSQL store would use a tsvector column on `session_search` instead.)
    """
    run_script(
        db,
        """
        CREATE TABLE session_search (
            docid INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL
        );
        CREATE VIRTUAL TABLE session_fts USING fts5(body, content='session_search', content_rowid='docid');
        CREATE TABLE curation_lists (
            name TEXT NOT NULL,
            session_id TEXT NOT NULL,
            note TEXT,
            added_at TEXT NOT NULL,
            PRIMARY KEY (name, session_id)
        )
        """,
    )
    # Trigger bodies contain ';', so they are run one by one rather than through run_script.
    db.execute(
        "CREATE TRIGGER session_search_ai AFTER INSERT ON session_search BEGIN "
        "INSERT INTO session_fts(rowid, body) VALUES (new.docid, new.body); END"
    )
    db.execute(
        "CREATE TRIGGER session_search_ad AFTER DELETE ON session_search BEGIN "
        "INSERT INTO session_fts(session_fts, rowid, body) VALUES ('delete', old.docid, old.body); END"
    )
    db.execute(
        "INSERT INTO session_search (session_id, body) SELECT s.id, "
        "COALESCE(s.title, '') || ' ' || COALESCE(s.project, '') || ' ' || "
        "COALESCE((SELECT group_concat(COALESCE(t.prompt, ''), ' ') FROM turns t WHERE t.session_id = s.id), '')"
        " || ' ' || COALESCE((SELECT group_concat(COALESCE(st.text, '') || ' ' || COALESCE(st.input, '') || ' ' "
        f"|| substr(COALESCE(st.output, ''), 1, {SEARCH_OUTPUT_CHARS}), ' ') FROM steps st "
        "WHERE st.session_id = s.id), '') FROM sessions s"
    )



@migration
def m006_session_context(db: sqlite3.Connection) -> None:
    """Git state recorded when a session starts (the SessionStart hook), since Claude Code's transcripts
    carry the branch but not the commit; `bashgym verify` replays a turn from that commit."""
    run_script(
        db,
        """
        CREATE TABLE session_context (
            session_id TEXT PRIMARY KEY,
            cwd TEXT,
            git_commit TEXT,
            git_branch TEXT,
            git_dirty INTEGER,
            recorded_at TEXT NOT NULL
        )
        """,
    )


# ---------------------------------------------------------------------------------------------- helpers


def now_iso() -> str:
    """UTC now as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (isoformat: several times faster than strftime's %f)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def dumps(value: Any) -> str | None:
    """JSON text for a column; None stays NULL. Non-JSON values (bytes, sets) are stringified."""
    if value is None:
        return None
    return orjson.dumps(value, default=str).decode()


def loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


# Raw source lines and long step outputs are kept zstd-compressed at a fast level (-3): ~5x faster than
# zlib here and still about 16x smaller than the text.
_ZSTD = zstandard.ZstdCompressor(level=-3)

COMPRESS_OUTPUT_CHARS = 1024


def _output_columns(output: str | None) -> tuple[str | None, bytes | None]:
    """(output, output_z) column values: long outputs are stored compressed."""
    if output is not None and len(output) > COMPRESS_OUTPUT_CHARS:
        return None, _ZSTD.compress(output.encode("utf-8", "surrogatepass"))
    return output, None


# Step rows are inserted with only the columns their kind uses (the others take their defaults, NULL or 0):
# binding a parameter costs about as much as storing it, and a message step leaves half the columns empty.
_STEP_MESSAGE_SQL = ("INSERT INTO steps (session_id, turn_idx, idx, kind, role, text, thinking, timestamp, model, "
                     "meta) VALUES (?,?,?,?,?,?,?,?,?,?)")
_STEP_TOOL_COLUMNS = ("session_id, turn_idx, idx, kind, role, tool_name, call_id, input, {output}, is_error, "
                      "exit_code, interrupted, duration_ms, timestamp, model, meta")
_STEP_TOOL_SQL = f"INSERT INTO steps ({_STEP_TOOL_COLUMNS.format(output='output')}) VALUES ({','.join('?' * 16)})"
_STEP_TOOL_Z_SQL = f"INSERT INTO steps ({_STEP_TOOL_COLUMNS.format(output='output_z')}) VALUES ({','.join('?' * 16)})"
_STEP_FULL_SQL = (
    "INSERT INTO steps (session_id, turn_idx, idx, kind, role, text, thinking, tool_name, call_id, input, output, "
    "output_z, is_error, exit_code, interrupted, duration_ms, timestamp, model, meta) "
    f"VALUES ({','.join('?' * 19)})"
)


def _decompress_text(blob: bytes) -> str:
    return zstandard.ZstdDecompressor().decompress(blob).decode("utf-8", "surrogatepass")


@dataclass(slots=True)
class SourceFileState:
    path: str
    source: str
    size: int
    mtime: float
    byte_offset: int
    line_count: int
    head_hash: str | None
    session_ids: list[str]
    skipped_lines: int


# The tier of a whole session's newest label row (labels.turn_idx = -1), or NULL: as `latest_labels`,
# the newest row of a target is its whole state.
_LABEL_TIER_SQL = (
    "(SELECT l.tier FROM labels l WHERE l.session_id = s.id AND l.turn_idx = -1 ORDER BY l.id DESC LIMIT 1)"
)
# A session's effective tier: a human label's wins over the heuristic judge's (as the factory selects).
_TIER_SQL = f"COALESCE({_LABEL_TIER_SQL}, sc.tier)"


def fts_query(text: str) -> str | None:
    """A user's search box text as a safe FTS5 query: every word a quoted term (all must match).

    "quoted phrases" stay phrases and a trailing * keeps prefix search; FTS5 operators typed by the user
    are searched as words, so no input can be a syntax error.

    >>> fts_query('git "rebase -i" conf*')
    '"git" "rebase -i" "conf"*'
    """
    terms = []
    for raw in re.findall(r'"[^"]*"|\S+', text):
        prefix = raw.endswith("*") and not raw.startswith('"')
        word = raw.strip('"').rstrip("*") if prefix else raw.strip('"')
        if word.strip():
            terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms) or None


SESSION_FILTERS = ("source", "project", "model", "since", "until", "tier", "min_score", "max_score", "parent",
                   "search")
SORT_KEYS = {
    "started": "s.started_at",
    "steps": "s.n_steps",
    "turns": "s.n_turns",
    "tokens": "(s.input_tokens + s.output_tokens)",
    "score": "sc.total",
    # By rank, not by name (descending: gold, silver, bronze, failed), then by score within a tier
    # (a score in [0, 1] adds at most 0.5, less than one rank step).
    "tier": f"(CASE {_TIER_SQL} WHEN 'gold' THEN 4 WHEN 'silver' THEN 3 WHEN 'bronze' THEN 2 WHEN 'failed' THEN 1 END"
            " + COALESCE(sc.total, 0) / 2)",
}


class Store:
    """Façade over the bashgym database. Open with `Store.open()`; use as a context manager."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise NotFoundError(f"no bashgym store at {self.path} (run `bashgym import` first)")
        self.db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        try:
            self._configure(readonly)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # locked, read-only disk...: not corruption
                raise
            self.db.close()
            raise BashgymError(
                f"{self.path} is not a readable bashgym store ({exc}); move it aside (the next command starts "
                "a new one, then re-import) or point --home / BASHGYM_HOME at another directory"
            ) from None

    def _configure(self, readonly: bool) -> None:
        self.db.execute("PRAGMA busy_timeout = 60000")
        self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # reads the header: fails on a non-db
        if not readonly:
            # Transcripts are mostly long text and compressed blobs: the largest pages mean the fewest overflow
            # pages and WAL frames per import (~5% faster than 16 KiB, measured). Only applies at creation.
            self.db.execute("PRAGMA page_size = 65536")
            self._use_wal()
        self.db.execute("PRAGMA cache_size = -65536")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            self.migrate()

    def _use_wal(self) -> None:
        """Switch to WAL (persistent in the file). Switching takes a lock that SQLite does not wait for, so
        processes opening a new store at once (two hooks' ingests, say) retry instead of failing."""
        for attempt in range(400):
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 399:
                    raise
                time.sleep(0.025)

    @classmethod
    def open(cls, home: Path | None = None, *, readonly: bool = False) -> Store:
        return cls(db_path(home), readonly=readonly)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ schema

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied."""
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        applied: list[str] = []
        done = {r[0] for r in self.db.execute("SELECT name FROM migrations")}
        for fn in MIGRATIONS:
            if fn.__name__ in done:
                continue
            with self.transaction():
                again = self.db.execute("SELECT 1 FROM migrations WHERE name = ?", (fn.__name__,)).fetchone()
                if again:  # another process migrated while we waited for the lock
                    continue
                fn(self.db)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (fn.__name__, now_iso()))
            applied.append(fn.__name__)
        return applied

    @contextlib.contextmanager
    def background_checkpoints(self, every_s: float = 0.1) -> Iterator[None]:
        """During a bulk write, copy the WAL into the database from a helper thread (its own connection)
        instead of inside this connection's commits, so the disk syncs overlap with parsing. WAL keeps the
        store consistent whenever the process dies; this changes only who pays for the copy."""
        stop = threading.Event()

        def run() -> None:
            db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            try:
                while not stop.wait(every_s):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                db.close()

        self.db.execute("PRAGMA wal_autocheckpoint = 0")
        worker = threading.Thread(target=run, name="bashgym-checkpoint", daemon=True)
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join()
            # What is left in the WAL is copied by SQLite itself: at the next commit past the threshold, or
            # when the last connection closes. A checkpoint here would cost every import call a disk sync.
            self.db.execute("PRAGMA wal_autocheckpoint = 1000")

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM migrations ORDER BY name")]

    def transaction(self) -> _Transaction:
        """`with store.transaction():` — BEGIN IMMEDIATE … COMMIT, rolled back on error."""
        return _Transaction(self.db)

    # ------------------------------------------------------------------------------------------ sessions

    def save_session(self, session: Session, imported_at: str | None = None) -> None:
        """Insert or replace a whole session (turns and steps). Call inside a transaction for atomicity.

        `imported_at` defaults to now; a bulk import passes one stamp for all the sessions it writes at once.
        """
        n_steps = sum(len(t.steps) for t in session.turns)
        n_tools = sum(1 for t in session.turns for s in t.steps if s.kind == "tool_call")
        u = session.usage
        row = (
            session.id, session.source, session.project, session.cwd, session.git_branch,
            session.git_commit, dumps(session.models), session.started_at, session.ended_at,
            u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_creation_tokens,
            session.parent_id, session.agent_version, session.title, session.source_path,
            len(session.turns), n_steps, n_tools, dumps(session.meta or None), SCHEMA_VERSION,
            imported_at or now_iso(),
        )
        sql = "INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        try:  # a new session, the common case, needs no lookup and no deletes
            self.db.execute(sql, row)
        except sqlite3.IntegrityError:  # the id is taken: replace that session whole
            self.delete_session_rows(session.id)
            self.db.execute(sql, row)
        turn_rows = []
        messages: list[tuple[Any, ...]] = []
        tools: list[tuple[Any, ...]] = []
        tools_z: list[tuple[Any, ...]] = []
        others: list[tuple[Any, ...]] = []
        sid = session.id
        for turn in session.turns:
            tu = turn.usage
            ti = turn.index
            turn_rows.append(
                (
                    sid, ti, turn.prompt, turn.started_at, turn.ended_at, tu.input_tokens,
                    tu.output_tokens, tu.cache_read_tokens, tu.cache_creation_tokens, dumps(turn.meta or None),
                )
            )
            for i, s in enumerate(turn.steps):
                meta = dumps(s.meta) if s.meta else None
                output = s.output
                if (s.tool_name is None and s.call_id is None and s.input is None and output is None
                        and s.exit_code is None and s.duration_ms is None and not s.is_error and not s.interrupted):
                    messages.append((sid, ti, i, s.kind, s.role, s.text or None, s.thinking or None, s.timestamp,
                                     s.model, meta))
                elif s.text or s.thinking:
                    others.append((sid, ti, i, s.kind, s.role, s.text or None, s.thinking or None, s.tool_name,
                                   s.call_id, dumps(s.input), *_output_columns(output), int(s.is_error),
                                   s.exit_code, int(s.interrupted), s.duration_ms, s.timestamp, s.model, meta))
                else:
                    text, blob = _output_columns(output)
                    (tools if blob is None else tools_z).append(
                        (sid, ti, i, s.kind, s.role, s.tool_name, s.call_id, dumps(s.input),
                         text if blob is None else blob, int(s.is_error), s.exit_code, int(s.interrupted),
                         s.duration_ms, s.timestamp, s.model, meta))
        db = self.db
        db.executemany("INSERT INTO turns VALUES (?,?,?,?,?,?,?,?,?,?)", turn_rows)
        for sql, rows in ((_STEP_MESSAGE_SQL, messages), (_STEP_TOOL_SQL, tools), (_STEP_TOOL_Z_SQL, tools_z),
                          (_STEP_FULL_SQL, others)):
            if rows:
                db.executemany(sql, rows)
        # ui: the full-text index is derived data, built on demand (refresh_search_index) so that bulk
        # imports don't pay for it; delete_session_rows drops a stale entry.

    def delete_session_rows(self, session_id: str) -> None:
        self.db.execute("DELETE FROM steps WHERE session_id = ?", (session_id,))
        self.db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
        self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        self.db.execute("DELETE FROM session_search WHERE session_id = ?", (session_id,))  # ui

    def session_exists(self, session_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None

    def resolve_session_id(self, prefix: str) -> str:
        """Full id from an id or a unique prefix (as git does for commits)."""
        if self.session_exists(prefix):
            return prefix
        rows = self.db.execute(
            "SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6",
            (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if not rows:
            raise NotFoundError(f"no session with id {prefix!r} (see `bashgym sessions list`)")
        raise BashgymError(f"session id {prefix!r} is ambiguous: " + ", ".join(r[0] for r in rows[:5]))

    def get_session(self, session_id: str) -> Session:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no session with id {session_id!r}")
        session = Session(
            id=row["id"],
            source=row["source"],
            project=row["project"],
            cwd=row["cwd"],
            git_branch=row["git_branch"],
            git_commit=row["git_commit"],
            models=loads(row["models"]) or [],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            usage=Usage(row["input_tokens"], row["output_tokens"], row["cache_read_tokens"],
                        row["cache_creation_tokens"]),
            parent_id=row["parent_id"],
            agent_version=row["agent_version"],
            title=row["title"],
            source_path=row["source_path"],
            meta=loads(row["meta"]) or {},
            schema_version=row["schema_version"],
        )
        turns: dict[int, Turn] = {}
        for t in self.db.execute("SELECT * FROM turns WHERE session_id = ? ORDER BY idx", (session_id,)):
            turns[t["idx"]] = Turn(
                index=t["idx"],
                prompt=t["prompt"] or "",
                started_at=t["started_at"],
                ended_at=t["ended_at"],
                usage=Usage(t["input_tokens"], t["output_tokens"], t["cache_read_tokens"],
                            t["cache_creation_tokens"]),
                meta=loads(t["meta"]) or {},
            )
        for s in self.db.execute(
            "SELECT * FROM steps WHERE session_id = ? ORDER BY turn_idx, idx", (session_id,)
        ):
            turns[s["turn_idx"]].steps.append(
                Step(
                    kind=s["kind"],
                    role=s["role"] or "assistant",
                    text=s["text"] or "",
                    thinking=s["thinking"] or "",
                    tool_name=s["tool_name"],
                    call_id=s["call_id"],
                    input=loads(s["input"]),
                    output=s["output"] if s["output_z"] is None else _decompress_text(s["output_z"]),
                    is_error=bool(s["is_error"]),
                    exit_code=s["exit_code"],
                    interrupted=bool(s["interrupted"]),
                    duration_ms=s["duration_ms"],
                    timestamp=s["timestamp"],
                    model=s["model"],
                    meta=loads(s["meta"]) or {},
                )
            )
        session.turns = [turns[i] for i in sorted(turns)]
        return session

    def child_session_ids(self, session_id: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM sessions WHERE parent_id = ? ORDER BY started_at, id", (session_id,)
            )
        ]

    def _session_where(self, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        unknown = set(filters) - set(SESSION_FILTERS)
        if unknown:
            raise BashgymError(f"unknown session filter(s): {', '.join(sorted(unknown))}")
        clauses: list[str] = []
        params: list[Any] = []
        if filters.get("source"):
            clauses.append("s.source = ?")
            params.append(filters["source"])
        if filters.get("project"):
            clauses.append("(s.project LIKE ? OR s.cwd LIKE ?)")
            params += [f"%{filters['project']}%"] * 2
        if filters.get("model"):
            clauses.append("s.models LIKE ?")
            params.append(f"%{filters['model']}%")
        if filters.get("since"):
            clauses.append("s.started_at >= ?")
            params.append(filters["since"])
        if filters.get("until"):
            clauses.append("s.started_at < ?")
            params.append(filters["until"])
        if filters.get("tier"):  # the effective tier: a label's, else the judge's
            clauses.append(f"{_TIER_SQL} = ?")
            params.append(filters["tier"])
        if filters.get("min_score") is not None:
            clauses.append("sc.total >= ?")
            params.append(float(filters["min_score"]))
        if filters.get("max_score") is not None:
            clauses.append("sc.total <= ?")
            params.append(float(filters["max_score"]))
        if filters.get("parent") is not None:
            if filters["parent"] == "":
                clauses.append("s.parent_id IS NULL")
            else:
                clauses.append("s.parent_id = ?")
                params.append(filters["parent"])
        if filters.get("search"):  # full text over prompts, messages, commands and outputs (FTS5)
            self.refresh_search_index()
            clauses.append(
                "s.id IN (SELECT ss.session_id FROM session_fts JOIN session_search ss "
                "ON ss.docid = session_fts.rowid WHERE session_fts MATCH ?)"
            )
            params.append(fts_query(filters["search"]) or '""')
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return where, params

    def list_sessions(
        self, *, limit: int | None = 50, offset: int = 0, sort: str = "started", descending: bool = True,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Session summaries (no turns) with the judge's session-level score when there is one.

        `tier` is the effective tier (the newest session label's tier, else the judge's); `judged_tier` and
        `label_tier` say which is which.
        """
        if sort not in SORT_KEYS:
            raise BashgymError(f"unknown sort key {sort!r}; choose one of {', '.join(SORT_KEYS)}")
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        order = f"{SORT_KEYS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, s.id"
        sql = (
            "SELECT s.id, s.source, s.project, s.cwd, s.git_branch, s.models, s.started_at, s.ended_at, "
            "s.n_turns, s.n_steps, s.n_tool_calls, s.input_tokens, s.output_tokens, s.cache_read_tokens, "
            "s.cache_creation_tokens, s.parent_id, s.title, sc.total AS score, "
            f"{_TIER_SQL} AS tier, sc.tier AS judged_tier, {_LABEL_TIER_SQL} AS label_tier "
            f"FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id AND sc.turn_idx = -1 "
            f"AND sc.scorer = 'heuristic' {where} ORDER BY {order}"
        )
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        out = []
        for r in self.db.execute(sql, params):
            d = dict(r)
            d["models"] = loads(d["models"]) or []
            out.append(d)
        return out

    def count_sessions(self, **filters: Any) -> int:
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        sql = (
            "SELECT COUNT(*) FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id "
            f"AND sc.turn_idx = -1 AND sc.scorer = 'heuristic' {where}"
        )
        return self.db.execute(sql, params).fetchone()[0]

    def iter_session_ids(self, **filters: Any) -> Iterator[str]:
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        sql = (
            "SELECT s.id FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id AND sc.turn_idx = -1 "
            f"AND sc.scorer = 'heuristic' {where} ORDER BY s.started_at, s.id"
        )
        for (sid,) in self.db.execute(sql, params).fetchall():
            yield sid

    def stats(self, **filters: Any) -> dict[str, Any]:
        """Totals for `sessions stats`: counts by source, steps, tool calls, tokens, top tools."""
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        base = (
            "FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id AND sc.turn_idx = -1 "
            f"AND sc.scorer = 'heuristic' {where}"
        )
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(s.n_turns),0), COALESCE(SUM(s.n_steps),0), "
            "COALESCE(SUM(s.n_tool_calls),0), COALESCE(SUM(s.input_tokens),0), "
            "COALESCE(SUM(s.output_tokens),0), MIN(s.started_at), MAX(s.started_at), "
            f"COALESCE(SUM(CASE WHEN s.parent_id IS NOT NULL THEN 1 ELSE 0 END),0) {base}",
            params,
        ).fetchone()
        by_source = {
            r[0]: r[1] for r in self.db.execute(f"SELECT s.source, COUNT(*) {base} GROUP BY s.source", params)
        }
        by_tier = {
            (r[0] or "unscored"): r[1]
            for r in self.db.execute(f"SELECT {_TIER_SQL} AS t, COUNT(*) {base} GROUP BY t", params)
        }
        tools = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT tool_name, COUNT(*) FROM steps WHERE kind = 'tool_call' AND session_id IN "
                f"(SELECT s.id {base}) GROUP BY tool_name ORDER BY COUNT(*) DESC LIMIT 15",
                params,
            )
        }
        return {
            "sessions": row[0],
            "subagent_sessions": row[8],
            "turns": row[1],
            "steps": row[2],
            "tool_calls": row[3],
            "input_tokens": row[4],
            "output_tokens": row[5],
            "first_started_at": row[6],
            "last_started_at": row[7],
            "by_source": by_source,
            "by_tier": by_tier,
            "top_tools": tools,
        }

    # ------------------------------------------------------------------------------------------ import

    def source_file(self, path: str) -> SourceFileState | None:
        r = self.db.execute("SELECT * FROM source_files WHERE path = ?", (path,)).fetchone()
        if r is None:
            return None
        return SourceFileState(
            path=r["path"], source=r["source"], size=r["size"], mtime=r["mtime"],
            byte_offset=r["byte_offset"], line_count=r["line_count"], head_hash=r["head_hash"],
            session_ids=loads(r["session_ids"]) or [], skipped_lines=r["skipped_lines"],
        )

    def source_files(self, source: str | None = None) -> list[SourceFileState]:
        sql = "SELECT path FROM source_files" + (" WHERE source = ?" if source else "") + " ORDER BY path"
        return [self.source_file(r[0]) for r in self.db.execute(sql, (source,) if source else ())]  # type: ignore[misc]

    def source_file_marks(self) -> dict[str, tuple[int, float, int]]:
        """path → (size, mtime, byte_offset) of every known source file, in one query (import's skip test)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT path, size, mtime, byte_offset FROM source_files")}

    def put_source_file(self, state: SourceFileState, updated_at: str | None = None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO source_files VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                state.path, state.source, state.size, state.mtime, state.byte_offset, state.line_count,
                state.head_hash, dumps(state.session_ids), state.skipped_lines, updated_at or now_iso(),
            ),
        )

    def forget_source_file(self, path: str) -> None:
        """Drop a file's raw lines, errors and bookkeeping (before a full re-read of a replaced file)."""
        self.db.execute("DELETE FROM raw_chunks WHERE path = ?", (path,))
        self.db.execute("DELETE FROM import_errors WHERE path = ?", (path,))
        self.db.execute("DELETE FROM source_files WHERE path = ?", (path,))

    def add_raw_chunk(self, path: str, first_line: int, n_lines: int, start: int, end: int,
                      data: bytes | memoryview) -> None:
        """Keep `n_lines` raw source lines (`data`, newline-separated, no trailing newline) compressed."""
        self.db.execute(
            "INSERT OR REPLACE INTO raw_chunks VALUES (?,?,?,?,?,?)",
            (path, first_line, n_lines, start, end, _ZSTD.compress(data)),
        )

    def raw_chunks(self, path: str) -> Iterator[tuple[int, bytes]]:
        """A source file's stored raw lines, chunk by chunk: (number of the first line, the lines joined by
        newlines, no trailing newline), in order."""
        for first, blob in self.db.execute(
            "SELECT first_line, data FROM raw_chunks WHERE path = ? ORDER BY first_line", (path,)
        ).fetchall():
            yield first, zstandard.ZstdDecompressor().decompress(blob)

    def raw_lines(self, path: str) -> Iterator[tuple[int, bytes]]:
        """Every stored raw line of a source file as (line number, bytes), in order."""
        for first, chunk in self.raw_chunks(path):
            for i, line in enumerate(chunk.split(b"\n")):
                yield first + i, line

    def add_import_errors(self, path: str, errors: Iterable[tuple[int, str]]) -> None:
        errors = list(errors)
        if errors:
            stamp = now_iso()
            self.db.executemany("INSERT OR REPLACE INTO import_errors VALUES (?,?,?,?)",
                                [(path, line, message[:500], stamp) for line, message in errors])

    def import_errors(self, path: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT path, line_no, error FROM import_errors"
        params: tuple[Any, ...] = ()
        if path:
            sql += " WHERE path = ?"
            params = (path,)
        sql += " ORDER BY path, line_no LIMIT ?"
        return [dict(r) for r in self.db.execute(sql, (*params, limit))]

    # ------------------------------------------------------------------------------------------ scores

    def put_score(
        self, session_id: str, turn_idx: int, scorer: str, total: float | None, tier: str | None,
        metrics: dict[str, Any],
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?)",
            (session_id, turn_idx, scorer, total, tier, dumps(metrics), now_iso()),
        )

    def scores(self, session_id: str, scorer: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM scores WHERE session_id = ?"
        params: list[Any] = [session_id]
        if scorer:
            sql += " AND scorer = ?"
            params.append(scorer)
        out = []
        for r in self.db.execute(sql + " ORDER BY turn_idx, scorer", params):
            d = dict(r)
            d["metrics"] = loads(d["metrics"]) or {}
            out.append(d)
        return out

    def add_label(
        self, session_id: str, turn_idx: int, *, label: str | None = None, tier: str | None = None,
        note: str | None = None, author: str | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO labels (session_id, turn_idx, label, tier, note, author, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (session_id, turn_idx, label, tier, note, author, now_iso()),
        )
        return int(cur.lastrowid or 0)

    def labels(self, session_id: str | None = None) -> list[dict[str, Any]]:
        if session_id is None:
            rows = self.db.execute("SELECT * FROM labels ORDER BY id")
        else:
            rows = self.db.execute("SELECT * FROM labels WHERE session_id = ? ORDER BY id", (session_id,))
        return [dict(r) for r in rows]

    def latest_labels(self, session_id: str) -> dict[int, dict[str, Any]]:
        """The newest label per turn (turn -1 = session): later labels override earlier ones."""
        out: dict[int, dict[str, Any]] = {}
        for lab in self.labels(session_id):
            out[lab["turn_idx"]] = lab
        return out

    # ------------------------------------------------------------------------------------------ ui
    # Full-text search (m005), the session list's filters beyond SESSION_FILTERS, curation lists, and
    # plain reads of the dataset/run/eval tables for the web UI's pages.

    def refresh_search_index(self) -> int:
        """Index every session that has no search entry yet (new or re-imported); returns how many.

        Called before a full-text query, so search is always in step with the store while imports stay
        fast. Each batch commits on its own: an interrupted refresh keeps what it indexed.
        """
        done = 0
        while True:
            ids = [r[0] for r in self.db.execute(
                "SELECT s.id FROM sessions s WHERE NOT EXISTS "
                "(SELECT 1 FROM session_search ss WHERE ss.session_id = s.id) LIMIT 200")]
            if not ids:
                return done
            with self.transaction():
                for sid in ids:
                    self.index_session_search(self.get_session(sid))
            done += len(ids)

    def index_session_search(self, session: Session) -> None:
        """(Re)write a session's search body: title, project, prompts, message text, tool inputs, outputs."""
        parts: list[str] = [session.title or "", session.project or ""]
        for turn in session.turns:
            parts.append(turn.prompt)
            for s in turn.steps:
                parts += [s.text, s.thinking]
                if s.input is not None:
                    parts.append(s.input if isinstance(s.input, str) else (dumps(s.input) or ""))
                if s.output:
                    parts.append(s.output[:SEARCH_OUTPUT_CHARS])
        self.db.execute("DELETE FROM session_search WHERE session_id = ?", (session.id,))
        self.db.execute(
            "INSERT INTO session_search (session_id, body) VALUES (?, ?)",
            (session.id, " ".join(p for p in parts if p)),
        )

    def _ui_where(
        self, query: str | None, label: str | None, tier: str | None, curation: str | None,
        filters: dict[str, Any],
    ) -> tuple[str, list[Any]]:
        # parent="" means top-level sessions only; other empty filters mean "any".
        where, params = self._session_where(
            {k: v for k, v in filters.items() if v is not None and (v != "" or k == "parent")}
        )
        clauses: list[str] = [where[len("WHERE "):]] if where else []
        match = fts_query(query or "")
        if match:
            clauses.append(
                "s.id IN (SELECT ss.session_id FROM session_fts JOIN session_search ss "
                "ON ss.docid = session_fts.rowid WHERE session_fts MATCH ?)"
            )
            params.append(match)
        if tier:
            clauses.append(f"{_TIER_SQL} = ?")
            params.append(tier)
        if label in ("good", "bad"):
            clauses.append(
                "EXISTS (SELECT 1 FROM labels l WHERE l.session_id = s.id AND l.label = ? AND l.id = "
                "(SELECT MAX(l2.id) FROM labels l2 WHERE l2.session_id = l.session_id "
                "AND l2.turn_idx = l.turn_idx))"
            )
            params.append(label)
        elif label == "any":
            clauses.append("EXISTS (SELECT 1 FROM labels l WHERE l.session_id = s.id)")
        elif label == "none":
            clauses.append("NOT EXISTS (SELECT 1 FROM labels l WHERE l.session_id = s.id)")
        elif label:
            raise BashgymError(f"unknown label filter {label!r}; choose good, bad, any or none")
        if curation:
            clauses.append("s.id IN (SELECT session_id FROM curation_lists WHERE name = ?)")
            params.append(curation)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def search_sessions(
        self, query: str | None = None, *, label: str | None = None, tier: str | None = None,
        curation: str | None = None, limit: int = 50, offset: int = 0, sort: str = "started",
        descending: bool = True, **filters: Any,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of session summaries and the total matching, for the UI's list.

        `query` is full-text (FTS5) over prompts, commands and outputs; `tier` is the effective tier (the
        session's newest label row's tier, else the heuristic judge's); `label` is good|bad|any|none, the
        newest label row of any turn or of the session.
        """
        if sort not in SORT_KEYS:
            raise BashgymError(f"unknown sort key {sort!r}; choose one of {', '.join(SORT_KEYS)}")
        if query:
            self.refresh_search_index()
        where, params = self._ui_where(query, label, tier, curation, filters)
        base = (
            "FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id AND sc.turn_idx = -1 "
            f"AND sc.scorer = 'heuristic' {where}"
        )
        total = self.db.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
        order = f"{SORT_KEYS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, s.id"
        rows = self.db.execute(
            "SELECT s.id, s.source, s.project, s.cwd, s.git_branch, s.models, s.started_at, s.ended_at, "
            "s.n_turns, s.n_steps, s.n_tool_calls, s.input_tokens, s.output_tokens, s.parent_id, s.title, "
            f"sc.total AS score, sc.tier AS judged_tier, {_LABEL_TIER_SQL} AS label_tier, "
            "(SELECT t.prompt FROM turns t WHERE t.session_id = s.id ORDER BY t.idx LIMIT 1) AS first_prompt "
            f"{base} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["models"] = loads(d["models"]) or []
            d["tier"] = d["label_tier"] or d["judged_tier"]
            out.append(d)
        return out, total

    def search_snippets(self, query: str, session_ids: list[str]) -> dict[str, str]:
        """A short excerpt around the match per session; matches are wrapped in \\x02 … \\x03."""
        match = fts_query(query)
        if not match or not session_ids:
            return {}
        marks = ",".join("?" * len(session_ids))
        rows = self.db.execute(
            "SELECT ss.session_id, snippet(session_fts, 0, char(2), char(3), '…', 16) FROM session_fts "
            "JOIN session_search ss ON ss.docid = session_fts.rowid "
            f"WHERE session_fts MATCH ? AND ss.session_id IN ({marks})",
            [match, *session_ids],
        )
        return {r[0]: r[1] for r in rows}

    def session_facets(self) -> dict[str, list[str]]:
        """Values for the list's filter menus: sources, the most common projects, models."""
        sources = [r[0] for r in self.db.execute("SELECT DISTINCT source FROM sessions ORDER BY source")]
        projects = [
            r[0]
            for r in self.db.execute(
                "SELECT project FROM sessions WHERE project IS NOT NULL GROUP BY project "
                "ORDER BY COUNT(*) DESC, project LIMIT 200"
            )
        ]
        models: set[str] = set()
        for (text,) in self.db.execute("SELECT DISTINCT models FROM sessions LIMIT 1000"):
            models.update(loads(text) or [])
        return {"sources": sources, "projects": sorted(projects), "models": sorted(models)}

    def labels_for_sessions(self, session_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Every label row of the given sessions, oldest first, grouped by session."""
        out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in session_ids}
        if not session_ids:
            return out
        marks = ",".join("?" * len(session_ids))
        for r in self.db.execute(f"SELECT * FROM labels WHERE session_id IN ({marks}) ORDER BY id", session_ids):
            out[r["session_id"]].append(dict(r))
        return out

    def add_to_curation_list(self, name: str, session_ids: Iterable[str], note: str | None = None) -> int:
        """Add sessions to a named curation list (the factory can select by it); returns how many were new."""
        before = self.db.total_changes
        stamp = now_iso()
        self.db.executemany(
            "INSERT INTO curation_lists (name, session_id, note, added_at) VALUES (?,?,?,?) "
            "ON CONFLICT (name, session_id) DO NOTHING",
            [(name, sid, note, stamp) for sid in session_ids],
        )
        return self.db.total_changes - before

    def remove_from_curation_list(self, name: str, session_ids: Iterable[str]) -> int:
        before = self.db.total_changes
        self.db.executemany(
            "DELETE FROM curation_lists WHERE name = ? AND session_id = ?", [(name, sid) for sid in session_ids]
        )
        return self.db.total_changes - before

    def curation_lists(self) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.execute(
                "SELECT name, COUNT(*) AS sessions, MAX(added_at) AS updated_at FROM curation_lists "
                "GROUP BY name ORDER BY name"
            )
        ]

    def curation_list_session_ids(self, name: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT session_id FROM curation_lists WHERE name = ? ORDER BY added_at, session_id", (name,)
            )
        ]

    def ui_dataset_breakdown(self, dataset_id: str) -> dict[str, Any]:
        """Counts of a dataset's sessions by source and by judged tier, from dataset_sessions."""
        base = (
            "FROM dataset_sessions ds JOIN sessions s ON s.id = ds.session_id LEFT JOIN scores sc "
            "ON sc.session_id = s.id AND sc.turn_idx = -1 AND sc.scorer = 'heuristic' WHERE ds.dataset_id = ?"
        )
        by_source = {r[0]: r[1] for r in self.db.execute(f"SELECT s.source, COUNT(*) {base} GROUP BY s.source",
                                                         (dataset_id,))}
        by_tier = {(r[0] or "unscored"): r[1]
                   for r in self.db.execute(f"SELECT sc.tier, COUNT(*) {base} GROUP BY sc.tier", (dataset_id,))}
        return {"sessions": sum(by_source.values()), "by_source": by_source, "by_tier": by_tier}

    # ------------------------------------------------------------------------------------------ eval

    def create_eval(
        self, eval_id: str, *, model: str, adapter_run_id: str | None, suite: str, k: int,
        config: dict[str, Any],
    ) -> None:
        """Record an eval as it starts (INSERT OR IGNORE: a resumed eval keeps its row and created_at)."""
        self.db.execute(
            "INSERT OR IGNORE INTO evals (id, model, adapter_run_id, suite, k, config, metrics, created_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (eval_id, model, adapter_run_id, suite, k, dumps(config), None, now_iso()),
        )

    def set_eval_metrics(self, eval_id: str, metrics: dict[str, Any]) -> None:
        self.db.execute("UPDATE evals SET metrics = ? WHERE id = ?", (dumps(metrics), eval_id))

    def _eval_row(self, row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["config"] = loads(d["config"]) or {}
        d["metrics"] = loads(d["metrics"]) or {}
        return d

    def get_eval(self, eval_id: str) -> dict[str, Any]:
        """An eval by id or unique id prefix."""
        row = self.db.execute("SELECT * FROM evals WHERE id = ?", (eval_id,)).fetchone()
        if row is None:
            rows = self.db.execute(
                "SELECT * FROM evals WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6",
                (eval_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
            if not rows:
                raise NotFoundError(f"no eval with id {eval_id!r} (see `bashgym eval list`)")
            if len(rows) > 1:
                raise BashgymError(f"eval id {eval_id!r} is ambiguous: " + ", ".join(r["id"] for r in rows[:5]))
            row = rows[0]
        return self._eval_row(row)

    def list_evals(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM evals ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))
        return [self._eval_row(r) for r in rows]

    def latest_eval(self, *, model: str, adapter_run_id: str | None, suite: str, k: int) -> dict[str, Any] | None:
        """The newest eval of the same model, adapter, suite and k: what `bashgym eval --resume` continues."""
        row = self.db.execute(
            "SELECT * FROM evals WHERE model = ? AND adapter_run_id IS ? AND suite = ? AND k = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (model, adapter_run_id, suite, k),
        ).fetchone()
        return None if row is None else self._eval_row(row)

    def put_rollout(
        self, eval_id: str, task_id: str, sample_idx: int, *, session_id: str | None, reward: float | None,
        status: str, detail: dict[str, Any],
    ) -> None:
        """One sample's outcome; status is passed | failed | error (error = no score, rerun on resume)."""
        self.db.execute(
            "INSERT OR REPLACE INTO rollouts VALUES (?,?,?,?,?,?,?,?)",
            (eval_id, task_id, sample_idx, session_id, reward, status, dumps(detail), now_iso()),
        )

    def rollouts(self, eval_id: str) -> list[dict[str, Any]]:
        out = []
        for r in self.db.execute(
            "SELECT * FROM rollouts WHERE eval_id = ? ORDER BY task_id, sample_idx", (eval_id,)
        ):
            d = dict(r)
            d["detail"] = loads(d["detail"]) or {}
            out.append(d)
        return out


    # ------------------------------------------------------------------------------------------ train

    def create_run(
        self, run_id: str, kind: str, *, dataset_id: str | None, base_model: str, config: dict[str, Any],
        output_dir: str, status: str = "running",
    ) -> None:
        """Record a training run as it starts, so an interrupted run is still listed (and resumable)."""
        self.db.execute(
            "INSERT INTO runs (id, kind, status, dataset_id, base_model, config, metrics, output_dir, created_at, "
            "finished_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, kind, status, dataset_id, base_model, dumps(config), None, output_dir, now_iso(), None),
        )

    def update_run(
        self, run_id: str, *, status: str | None = None, metrics: dict[str, Any] | None = None,
        finished: bool | None = None,
    ) -> None:
        """Change a run's status and/or metrics; finished=True stamps finished_at, False clears it (resume)."""
        sets: list[str] = []
        params: list[Any] = []
        if status is not None:
            sets.append("status = ?")
            params.append(status)
        if metrics is not None:
            sets.append("metrics = ?")
            params.append(dumps(metrics))
        if finished is not None:
            sets.append("finished_at = ?")
            params.append(now_iso() if finished else None)
        if not sets:
            return
        self.db.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?", (*params, run_id))

    def _run_row(self, row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["config"] = loads(d["config"]) or {}
        d["metrics"] = loads(d["metrics"]) or {}
        return d

    def resolve_run_id(self, prefix: str) -> str:
        """Full run id from an id or a unique prefix."""
        if self.db.execute("SELECT 1 FROM runs WHERE id = ?", (prefix,)).fetchone():
            return prefix
        rows = self.db.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6",
            (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if not rows:
            raise NotFoundError(f"no run {prefix!r} (see `bashgym runs list`)")
        raise NotFoundError(f"run prefix {prefix!r} is ambiguous: {', '.join(r[0] for r in rows)}")

    def get_run(self, run_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (self.resolve_run_id(run_id),)).fetchone()
        return self._run_row(row)

    def list_runs(self, kind: str | None = None, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT * FROM runs WHERE 1 = 1"
        params: list[Any] = []
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if status:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        return [self._run_row(r) for r in self.db.execute(sql, (*params, limit))]

    def run_by_output_dir(self, output_dir: str) -> dict[str, Any] | None:
        """The newest run that wrote into `output_dir` (a resume reuses its row)."""
        row = self.db.execute(
            "SELECT * FROM runs WHERE output_dir = ? ORDER BY created_at DESC LIMIT 1", (output_dir,)
        ).fetchone()
        return None if row is None else self._run_row(row)

    def run_session_ids(self, run_id: str) -> list[str]:
        """The sessions a run learned from: its dataset's sessions."""
        rows = self.db.execute(
            "SELECT ds.session_id FROM runs r JOIN dataset_sessions ds ON ds.dataset_id = r.dataset_id "
            "WHERE r.id = ? ORDER BY ds.session_id",
            (run_id,),
        )
        return [r[0] for r in rows]

    def dataset_row(self, dataset_id: str) -> dict[str, Any] | None:
        """A built dataset's row (path, counts, ...) or None; training resolves dataset ids with it."""
        row = self.db.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["config"] = loads(d["config"]) or {}
        d["counts"] = loads(d["counts"]) or {}
        return d

    # ------------------------------------------------------------------------------------------ judge
    # Which sessions still need scoring, the scores of one scorer across sessions (for `judge report`),
    # and clearing a scorer's rows before a rescore (a re-imported session may have fewer turns).

    def unscored_session_ids(self, scorer: str = "heuristic") -> list[str]:
        """Sessions with no session-level score from `scorer`, or re-imported since they were scored."""
        rows = self.db.execute(
            "SELECT s.id FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id AND sc.turn_idx = -1 "
            "AND sc.scorer = ? WHERE sc.session_id IS NULL OR sc.created_at < s.imported_at "
            "ORDER BY s.started_at, s.id",
            (scorer,),
        )
        return [r[0] for r in rows]

    def all_session_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM sessions ORDER BY started_at, id")]

    def scores_by_scorer(self, scorer: str, *, turns: bool = False) -> list[dict[str, Any]]:
        """Every score of one scorer: session-level rows (turn_idx = -1), or turn rows when `turns`."""
        op = ">=" if turns else "="
        rows = self.db.execute(
            f"SELECT * FROM scores WHERE scorer = ? AND turn_idx {op} ? ORDER BY session_id, turn_idx",
            (scorer, 0 if turns else -1),
        )
        out = []
        for r in rows:
            d = dict(r)
            d["metrics"] = loads(d["metrics"]) or {}
            out.append(d)
        return out

    def delete_scores(self, session_id: str, scorer: str) -> None:
        self.db.execute("DELETE FROM scores WHERE session_id = ? AND scorer = ?", (session_id, scorer))


    # ------------------------------------------------------------------------------------------ factory
    # Built datasets and the sessions each drew from (lineage: an adapter traces back to its sessions).

    def next_dataset_version(self, name: str) -> int:
        row = self.db.execute("SELECT MAX(version) FROM datasets WHERE name = ?", (name,)).fetchone()
        return int(row[0] or 0) + 1

    def add_dataset(
        self, dataset_id: str, *, name: str, version: int, path: str, config: dict[str, Any],
        counts: dict[str, Any], content_hash: str, redacted: bool, session_ids: Iterable[str],
    ) -> None:
        """Record a built dataset and its source sessions in one transaction."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO datasets VALUES (?,?,?,?,?,?,?,?,?)",
                (dataset_id, name, version, path, dumps(config), dumps(counts), content_hash, int(redacted),
                 now_iso()),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO dataset_sessions VALUES (?, ?)",
                [(dataset_id, sid) for sid in sorted(set(session_ids))],
            )

    def list_datasets(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM datasets" + (" WHERE name = ?" if name else "") + " ORDER BY created_at DESC, id"
        out = []
        for r in self.db.execute(sql, (name,) if name else ()):
            d = dict(r)
            d["config"] = loads(d["config"]) or {}
            d["counts"] = loads(d["counts"]) or {}
            d["redacted"] = bool(d["redacted"])
            out.append(d)
        return out

    def resolve_dataset_id(self, ref: str | None) -> str:
        """A dataset id from an id, a unique id prefix, a name (its newest version) or None (the newest)."""
        if ref is None:
            row = self.db.execute("SELECT id FROM datasets ORDER BY created_at DESC, id LIMIT 1").fetchone()
            if row is None:
                raise NotFoundError("no datasets yet (build one with `bashgym dataset build`)")
            return row[0]
        if self.db.execute("SELECT 1 FROM datasets WHERE id = ?", (ref,)).fetchone():
            return ref
        row = self.db.execute(
            "SELECT id FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1", (ref,)
        ).fetchone()
        if row:
            return row[0]
        rows = self.db.execute("SELECT id FROM datasets WHERE id LIKE ? ORDER BY id LIMIT 6", (ref + "%",)).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if rows:
            raise BashgymError(f"dataset {ref!r} is ambiguous: " + ", ".join(r[0] for r in rows[:5]))
        known = [r[0] for r in self.db.execute("SELECT id FROM datasets")]
        from bashgym.errors import did_you_mean

        raise NotFoundError(f"no dataset {ref!r}{did_you_mean(ref, known)} (see `bashgym dataset list`)")

    def get_dataset(self, ref: str | None) -> dict[str, Any]:
        dataset_id = self.resolve_dataset_id(ref)
        return next(d for d in self.list_datasets() if d["id"] == dataset_id)

    def dataset_session_ids(self, dataset_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT session_id FROM dataset_sessions WHERE dataset_id = ? ORDER BY session_id", (dataset_id,))]


    # ------------------------------------------------------------------------------------------ capture

    def put_session_context(self, session_id: str, *, cwd: str | None, git_commit: str | None,
                            git_branch: str | None, git_dirty: bool | None) -> None:
        """Record a session's starting git state; fill it into the session if that is stored already."""
        self.db.execute(
            "INSERT OR REPLACE INTO session_context VALUES (?,?,?,?,?,?)",
            (session_id, cwd, git_commit, git_branch, None if git_dirty is None else int(git_dirty), now_iso()),
        )
        if git_commit:
            self.db.execute("UPDATE sessions SET git_commit = ? WHERE id = ? AND git_commit IS NULL",
                            (git_commit, session_id))

    def session_context_ids(self) -> set[str]:
        """Ids of every session with a recorded start context (a small table: live-captured sessions)."""
        return {r[0] for r in self.db.execute("SELECT session_id FROM session_context")}

    def session_context(self, session_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM session_context WHERE session_id = ?", (session_id,)).fetchone()
        return dict(row) if row else None


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        for attempt in range(200):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return self.db
            except sqlite3.OperationalError as exc:  # pragma: no cover - only under heavy contention
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
