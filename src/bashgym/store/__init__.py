"""The one place that speaks SQL: the bashgym store, a package.

- `connection` — opening a store and its transactions (the embedded SQLite file, WAL).
- `migrations` — numbered, append-only migrations shared by every backend (`stop_before` for tests).
- `codec` — column values: timestamps, JSON, compressed text, and the one row decoder.
- `base` — what repositories share: the id-prefix resolver, the scored-sessions join, sort keys.
- `sessions`, `imports`, `scores`, `labels`, `lineage`, `search` — small repositories.
- `facade` — `Store`, which combines them over one connection: `from bashgym.store import Store`.

The SQL is kept standard (no SQLite-only types) so a shared PostgreSQL store can take the same migrations.
"""

from __future__ import annotations

from bashgym.store.base import SESSION_FILTERS, SORT_KEYS
from bashgym.store.codec import COMPRESS_OUTPUT_CHARS, dumps, loads, now_iso
from bashgym.store.facade import Store
from bashgym.store.imports import SourceFileState
from bashgym.store.migrations import MIGRATIONS, SEARCH_OUTPUT_CHARS, migration, run_script
from bashgym.store.search import fts_query

__all__ = [
    "COMPRESS_OUTPUT_CHARS", "MIGRATIONS", "SEARCH_OUTPUT_CHARS", "SESSION_FILTERS", "SORT_KEYS",
    "SourceFileState", "Store", "dumps", "fts_query", "loads", "migration", "now_iso", "run_script",
]
