"""`Store`: the one façade that opens a store and speaks SQL, combining the repositories over one
connection. Every stage reads from and writes back to it; nothing else opens the database."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bashgym.paths import db_path
from bashgym.store.connection import open_backend
from bashgym.store.imports import ImportsRepo
from bashgym.store.labels import LabelsRepo
from bashgym.store.lineage import LineageRepo
from bashgym.store.migrations import applied_migrations, check_schema, migrate, schema_state
from bashgym.store.scores import ScoresRepo
from bashgym.store.search import SearchRepo
from bashgym.store.sessions import SessionsRepo
from bashgym.store.syncstate import SyncRepo


def store_location(home: Path | None = None) -> str:
    """$BASHGYM_STORE_URL if set (what `--store URL` sets), else the home's SQLite file."""
    return os.environ.get("BASHGYM_STORE_URL") or str(db_path(home))


class Store(SessionsRepo, ImportsRepo, ScoresRepo, LabelsRepo, LineageRepo, SearchRepo, SyncRepo):
    """Façade over the bashgym database. Open with `Store.open()`; use as a context manager.

    `location` is a SQLite file path (the default store, migrated on open) or a `postgresql://` URL (a
    team store: a blank database is set up on open, an older one needs `bashgym store migrate`).
    """

    def __init__(self, location: Path | str, *, readonly: bool = False, migrate: bool | None = None) -> None:
        self.backend = open_backend(location, readonly=readonly)
        self.dialect: str = self.backend.dialect
        self.path: Path | None = self.backend.path
        self.location: str = self.backend.location  # what a worker process opens (a URL keeps its password)
        self.db = self.backend.db
        self.migrated: list[str] = []  # the migrations this open applied
        try:
            if readonly:
                check_schema(self.backend, allow_pending=True)
            elif migrate or (migrate is None and (self.dialect == "sqlite" or not schema_state(self.backend)[0])):
                self.migrated = self.migrate()
            else:
                check_schema(self.backend, allow_pending=False)
        except BaseException:
            self.backend.close()
            raise

    @classmethod
    def open(cls, home: Path | None = None, *, readonly: bool = False, migrate_store: bool | None = None) -> Store:
        """The store this process uses: $BASHGYM_STORE_URL (set by `--store URL`) if set, else the
        SQLite file in the bashgym home."""
        return cls(store_location(home), readonly=readonly, migrate=migrate_store)

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
        """`with store.transaction():` — BEGIN (IMMEDIATE on SQLite) … COMMIT, rolled back on error."""
        return self.backend.transaction()

    @contextlib.contextmanager
    def background_checkpoints(self, every_s: float = 0.1) -> Iterator[None]:
        """During a bulk write, let the backend flush in the background (SQLite: WAL checkpoints)."""
        with self.backend.background_checkpoints(every_s):
            yield

    def pipeline(self) -> Any:
        """`with store.pipeline():` many writes without a round trip each (PostgreSQL; no-op on SQLite)."""
        return self.backend.pipeline()

    def integrity_check(self) -> str:
        """'ok', or what the database's own check found wrong."""
        return self.backend.integrity_check()
