"""The connection and transaction layer: opening a store file, its settings, and `BEGIN … COMMIT`.

Repositories only ever see `db` (a DB-API connection whose `execute` takes `?` parameters) and
`transaction()`; everything that is particular to one database engine lives here.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bashgym.errors import BashgymError, NotFoundError


class SQLiteBackend:
    """An embedded store file in WAL mode: one writer at a time, readers never blocked."""

    dialect = "sqlite"

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
