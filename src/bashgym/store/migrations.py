"""Numbered migrations, shared by every backend: functions `mNNN_what_it_does`, applied in order, each in one
transaction together with its record in the `migrations` table.

They are append-only: never edit one that has shipped. `migrate(..., stop_before=NAME)` leaves a store at an
older version, which is how the tests build every shipped schema and migrate it forward.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from bashgym.store.codec import now_iso

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


def dialect(db: Any) -> str:
    """'sqlite' or 'postgresql': the few migrations that differ by engine branch on it."""
    return getattr(db, "dialect", "sqlite")


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
    (FTS5 is SQLite's; a PostgreSQL store has a tsvector column on `session_search` with a GIN index.)
    """
    if dialect(db) == "postgresql":
        _m005_postgres(db)
        return
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



# A tsvector holds at most 1 MB: the PostgreSQL index reads this much of a session's search body.
PG_SEARCH_BODY_CHARS = 300_000


def _m005_postgres(db: Any) -> None:
    """m005 on PostgreSQL: the body's tsvector ('simple': no stemming, as FTS5's default tokenizer) is a
    generated column with a GIN index. Sessions get their body on the next search (refresh_search_index)."""
    run_script(
        db,
        f"""
        CREATE TABLE session_search (
            docid INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', left(body, {PG_SEARCH_BODY_CHARS}))) STORED
        );
        CREATE INDEX session_search_tsv ON session_search USING GIN (tsv);
        CREATE TABLE curation_lists (
            name TEXT NOT NULL,
            session_id TEXT NOT NULL,
            note TEXT,
            added_at TEXT NOT NULL,
            PRIMARY KEY (name, session_id)
        )
        """,
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




@migration
def m007_team_origin(db: sqlite3.Connection) -> None:
    """A team store: who and which machine each session came from (`bashgym sync` fills them in; NULL =
    this machine), a label's origin (machine + its id there) so a second sync adds no label twice, and
    the local side's record of what was synced where (incremental, resumable)."""
    run_script(
        db,
        """
        ALTER TABLE sessions ADD COLUMN origin_user TEXT;
        ALTER TABLE sessions ADD COLUMN origin_host TEXT;
        CREATE INDEX sessions_origin_user ON sessions(origin_user);
        ALTER TABLE labels ADD COLUMN origin TEXT;
        CREATE UNIQUE INDEX labels_origin ON labels(origin);
        CREATE TABLE sync_state (
            target TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            stamp TEXT NOT NULL,
            PRIMARY KEY (target, kind, key)
        )
        """,
    )


def migration_names() -> list[str]:
    return [fn.__name__ for fn in MIGRATIONS]


def applied_migrations(backend: Any) -> list[str]:
    """Names of the migrations a store has, in order (none for a blank database)."""
    return [r[0] for r in backend.db.execute("SELECT name FROM migrations ORDER BY name")]


def version_of(name: str) -> int:
    """m007_team_origin → 7."""
    return int(name[1:4])


def schema_state(backend: Any) -> tuple[list[str], list[str], list[str]]:
    """(applied, pending, unknown) migration names of a store; unknown = from a newer bashgym."""
    applied = applied_migrations(backend) if backend.has_table("migrations") else []
    names = migration_names()
    return applied, [n for n in names if n not in applied], [n for n in applied if n not in names]


def check_schema(backend: Any, *, allow_pending: bool) -> None:
    """Refuse a store this bashgym cannot use: one written by a newer bashgym (it names both versions), or,
    unless `allow_pending`, an older one that needs `bashgym store migrate` first."""
    from bashgym.errors import BashgymError

    applied, pending, unknown = schema_state(backend)
    known = migration_names()[-1]
    if unknown:
        newest = max(unknown)
        raise BashgymError(
            f"the store {backend.describe()} has schema version {version_of(newest)} ({newest}), newer than this "
            f"bashgym knows (version {version_of(known)}, {known}): upgrade bashgym (pip install -U bashgym)"
        )
    if pending and applied and not allow_pending:
        at = max(applied)
        raise BashgymError(
            f"the store {backend.describe()} has schema version {version_of(at)} ({at}); this bashgym needs "
            f"version {version_of(known)} ({known}): run `bashgym store migrate` (with a role allowed to create "
            "tables), then retry"
        )


def migrate(backend: Any, *, stop_before: str | None = None) -> list[str]:
    """Apply pending migrations (all, or those before `stop_before`); returns the names applied.

    Each runs in one transaction with its record, and is re-checked under the write lock, so two
    processes opening a new store at once apply each migration once.
    """
    names = migration_names()
    if stop_before is not None and stop_before not in names:
        raise ValueError(f"no migration {stop_before!r}; known: {', '.join(names)}")
    with backend.migration_lock():
        return _migrate(backend, stop_before)


def _migrate(backend: Any, stop_before: str | None) -> list[str]:
    check_schema(backend, allow_pending=True)
    db = backend.db
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied: list[str] = []
    done = {r[0] for r in db.execute("SELECT name FROM migrations")}
    for fn in MIGRATIONS:
        if fn.__name__ == stop_before:
            break
        if fn.__name__ in done:
            continue
        with backend.transaction():
            again = db.execute("SELECT 1 FROM migrations WHERE name = ?", (fn.__name__,)).fetchone()
            if again:  # another process migrated while we waited for the lock
                continue
            fn(db)
            db.execute("INSERT INTO migrations VALUES (?, ?)", (fn.__name__, now_iso()))
        applied.append(fn.__name__)
    return applied
