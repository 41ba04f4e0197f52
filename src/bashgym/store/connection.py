"""The connection and transaction layer, one backend per database engine: an embedded SQLite file (the
default) or a team's PostgreSQL server.

Repositories only ever see `db` (a connection whose `execute` takes `?` parameters and returns a cursor)
and `transaction()`; everything particular to one engine lives here: opening, settings, transactions,
and (PostgreSQL) turning the repositories' standard SQL into the server's dialect.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from bashgym.errors import BashgymError, MissingDependencyError, NotFoundError

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_url(location: str | Path) -> bool:
    """True for a `postgresql://` (or `sqlite:///`) store URL, False for a file path."""
    return isinstance(location, str) and location.split("://", 1)[0] in (*POSTGRES_SCHEMES, "sqlite") \
        and "://" in location


def safe_url(url: str) -> str:
    """The URL with its password (and any password= parameter) replaced by ***: for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """`text` with the URL's password removed wherever it appears (driver messages may quote a conninfo)."""
    password = urlsplit(url).password
    for secret in {password, unquote(password)} if password else ():
        if secret:
            text = text.replace(secret, "***")
    return text


def open_backend(location: str | Path, *, readonly: bool = False) -> SQLiteBackend | PostgresBackend:
    """The backend for a file path, `sqlite:///path` or `postgresql://user@host:port/db`."""
    if is_url(location):
        scheme = str(location).split("://", 1)[0]
        if scheme in POSTGRES_SCHEMES:
            return PostgresBackend(str(location), readonly=readonly)
        return SQLiteBackend(urlsplit(str(location)).path, readonly=readonly)
    return SQLiteBackend(location, readonly=readonly)


def _stays_empty(path: Path, wait_s: float = 2.0) -> bool:
    """True for a zero-byte file that stays empty: another process creating the store writes its header
    within milliseconds, a truncated store never does."""
    deadline = time.monotonic() + wait_s
    while path.is_file() and path.stat().st_size == 0:
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)
    return False


class SQLiteBackend:
    """An embedded store file in WAL mode: one writer at a time, readers never blocked."""

    dialect = "sqlite"

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise NotFoundError(f"no bashgym store at {self.path} (run `bashgym import` first)")
        if _stays_empty(self.path):
            # SQLite would take an empty file as a new database; a store is never empty (it has a schema), so
            # this is a file that was truncated or not written out: say so instead of starting over in it.
            raise BashgymError(
                f"{self.path} is an empty file (0 bytes), not a bashgym store; it was probably truncated. Move "
                "it aside (the next command starts a new store, then re-import) or point --home / "
                "BASHGYM_HOME at another directory"
            )
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

    def describe(self) -> str:
        """Where the store is, safe to print."""
        return str(self.path)

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
        # What a row held is zeroed when it is deleted or rewritten, not left in free space of the file: after
        # `import --rederive --redact` (capture.redact) the raw text it replaced must not be recoverable.
        # Many builds (Debian's) already default to this; python.org's and macOS's do not.
        self.db.execute("PRAGMA secure_delete = ON")

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

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on error: the write lock is taken up front, so two writers
        wait for each other instead of failing half way."""
        for attempt in range(200):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:  # pragma: no cover - only under heavy contention
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.05)
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

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

    def integrity_check(self) -> str:
        """'ok', or what SQLite's quick check found wrong (doctor asks this instead of reaching into SQL)."""
        return str(self.db.execute("PRAGMA quick_check").fetchone()[0])

    @contextlib.contextmanager
    def migration_lock(self) -> Iterator[None]:
        yield  # each migration's BEGIN IMMEDIATE already serializes migrating processes

    @contextlib.contextmanager
    def pipeline(self) -> Iterator[None]:
        yield  # an embedded database has no round trips to save

    def has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


# ---------------------------------------------------------------------------------------------- PostgreSQL

# DDL written for SQLite, as PostgreSQL types: 64-bit integers (token counts, byte offsets), doubles, bytea.
_PG_TYPES = [
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
]
_LIKE = re.compile(r"\bLIKE\b")


@functools.lru_cache(maxsize=2048)
def to_postgres(sql: str) -> str:
    """The repositories' SQL in PostgreSQL's dialect: `?` → `%s` outside string literals (`%` doubled), LIKE →
    ILIKE (SQLite's LIKE ignores ASCII case: same results on both), SQLite types in CREATE/ALTER TABLE."""
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    text = _LIKE.sub("ILIKE", "".join(out))
    head = text.lstrip()[:12].upper()
    if head.startswith(("CREATE TABLE", "ALTER TABLE")):
        for pattern, replacement in _PG_TYPES:
            text = pattern.sub(replacement, text)
    return text


class PgRow(tuple):  # noqa: SLOT001 - needs a __dict__ for its column index
    """A result row readable by position and by column name (as sqlite3.Row), so repositories are shared."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _pg_row_factory(cursor: Any) -> Any:
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> PgRow:
        row = PgRow(values)
        row._index = index
        return row

    return make


class PgConnection:
    """The PostgreSQL connection as repositories use it: `execute` / `executemany` with `?` parameters."""

    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cur = self.conn.cursor()
        cur.execute(to_postgres(sql), tuple(params) if params is not None else ())
        return cur

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        cur = self.conn.cursor()
        cur.executemany(to_postgres(sql), list(rows))
        return cur

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """COPY rows into a table in the binary format: the server's bulk path, one statement for any number
        of rows, and compressed blobs sent as they are (the text format would spell them out in hex)."""
        types = self._column_types(table)
        with self.conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([types[c] for c in columns])
            for row in rows:
                copy.write_row(row)

    @functools.cache  # noqa: B019 - one connection, a handful of tables
    def _column_types(self, table: str) -> dict[str, str]:
        rows = self.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
                            (table,)).fetchall()
        return {r[0]: r[1] for r in rows}

    def close(self) -> None:
        self.conn.close()


# psycopg's SQLSTATEs of errors that a retry of the whole transaction fixes.
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


class PostgresBackend:
    """A team store on a PostgreSQL server (psycopg 3). Credentials stay in the URL (or PGPASSWORD /
    ~/.pgpass); every message shows the URL without its password."""

    dialect = "postgresql"
    path = None

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        try:
            import psycopg
        except ImportError:
            raise MissingDependencyError(
                "a PostgreSQL store needs psycopg: pip install 'bashgym[team]'") from None
        self.location = url
        self.url = safe_url(url)
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10, row_factory=_pg_row_factory,
                                   application_name="bashgym")
        except psycopg.Error as exc:
            raise BashgymError(self._connect_message(exc)) from None
        if readonly:
            conn.execute("SET default_transaction_read_only = on")
        self.db = PgConnection(conn)

    def _connect_message(self, exc: Exception) -> str:
        text = scrub(str(exc).strip(), self.location)
        low = text.lower()
        if "password authentication failed" in low or "no password supplied" in low:
            why = ("the server refused the user name or password; put the right password in the URL, "
                   "PGPASSWORD or ~/.pgpass")
        elif "does not exist" in low and "database" in low:
            why = "that database does not exist; create it (createdb) or fix the URL's /DBNAME"
        elif "connection refused" in low or "timeout" in low or "could not translate host" in low \
                or "no route" in low or "name or service not known" in low:
            why = "the server cannot be reached; is it running, and are the host and port right?"
        else:
            why = "the connection failed"
        detail = " ".join(line.strip() for line in text.splitlines() if line.strip()) or type(exc).__name__
        return f"cannot open the team store {self.url}: {why} ({detail})"

    def describe(self) -> str:
        return self.url

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """BEGIN … COMMIT on the server, rolled back on error (READ COMMITTED; writers of the same rows
        wait for each other)."""
        self.db.execute("BEGIN")
        try:
            yield self.db
        except BaseException:
            with contextlib.suppress(Exception):
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def migration_lock(self) -> Iterator[None]:
        """One migrating process at a time (an advisory lock): two first syncs into a blank database
        must not both create the tables."""
        self.db.execute("SELECT pg_advisory_lock(4242001)")
        try:
            yield
        finally:
            self.db.execute("SELECT pg_advisory_unlock(4242001)")

    @contextlib.contextmanager
    def background_checkpoints(self, every_s: float = 0.1) -> Iterator[None]:
        yield  # the server writes its own log in the background

    @contextlib.contextmanager
    def pipeline(self) -> Iterator[None]:
        """Send statements without waiting for each one's answer (psycopg's pipeline mode): a batch of
        writes costs one round trip instead of one per statement. Errors surface at its end."""
        with self.db.conn.pipeline():
            yield

    def integrity_check(self) -> str:
        return "ok" if self.db.execute("SELECT 1").fetchone()[0] == 1 else "the server did not answer"

    def has_table(self, name: str) -> bool:
        return self.db.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0]
