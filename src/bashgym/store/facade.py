"""`Store`: the one façade that opens a store and speaks SQL, combining the repositories over one
connection. Every stage reads from and writes back to it; nothing else opens the database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bashgym.paths import db_path
from bashgym.store.connection import SQLiteBackend
from bashgym.store.imports import ImportsRepo
from bashgym.store.labels import LabelsRepo
from bashgym.store.lineage import LineageRepo
from bashgym.store.migrations import applied_migrations, migrate
from bashgym.store.scores import ScoresRepo
from bashgym.store.search import SearchRepo
from bashgym.store.sessions import SessionsRepo


class Store(SessionsRepo, ImportsRepo, ScoresRepo, LabelsRepo, LineageRepo, SearchRepo):
    """Façade over the bashgym database. Open with `Store.open()`; use as a context manager."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.backend = SQLiteBackend(path, readonly=readonly)
        self.path = self.backend.path
        self.db = self.backend.db
        if not readonly:
            self.migrate()

    @classmethod
    def open(cls, home: Path | None = None, *, readonly: bool = False) -> Store:
        return cls(db_path(home), readonly=readonly)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """Where this store lives, safe to print (never a password)."""
        return self.backend.describe()

    # ------------------------------------------------------------------------------------------ schema

    def migrate(self, *, stop_before: str | None = None) -> list[str]:
        """Apply pending migrations; returns the names applied."""
        return migrate(self.backend, stop_before=stop_before)

    def applied_migrations(self) -> list[str]:
        return applied_migrations(self.backend)

    def transaction(self) -> Any:
        """`with store.transaction():` — BEGIN IMMEDIATE … COMMIT, rolled back on error."""
        return self.backend.transaction()

    @contextlib.contextmanager
    def background_checkpoints(self, every_s: float = 0.1) -> Iterator[None]:
        """During a bulk write, let the backend flush in the background (SQLite: WAL checkpoints)."""
        with self.backend.background_checkpoints(every_s):
            yield

    def integrity_check(self) -> str:
        """'ok', or what the database's own check found wrong."""
        return self.backend.integrity_check()
