"""Import bookkeeping: how far each source file was read, its raw lines (compressed), and its bad lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from bashgym.store.base import Repo, upsert_sql
from bashgym.store.codec import compress, decompress, dumps, loads, now_iso

SOURCE_FILE_SQL = upsert_sql("source_files", "path, source, size, mtime, byte_offset, line_count, head_hash, "
                              "session_ids, skipped_lines, imported_at", "path")
_RAW_CHUNK_SQL = upsert_sql("raw_chunks", "path, first_line, n_lines, start_offset, end_offset, data",
                            "path, first_line")
_IMPORT_ERROR_SQL = upsert_sql("import_errors", "path, line_no, error, created_at", "path, line_no")


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


class ImportsRepo(Repo):
    """source_files, raw_chunks and import_errors."""

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
            SOURCE_FILE_SQL,
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
                      data: bytes | memoryview | None = None, *, compressed: bytes | None = None) -> None:
        """Keep `n_lines` raw source lines (`data`, newline-separated, no trailing newline) compressed;
        `compressed`: those lines compressed already (`codec.compress`), in place of `data`."""
        self.db.execute(
            _RAW_CHUNK_SQL,
            (path, first_line, n_lines, start, end, compress(data) if compressed is None else compressed),
        )

    def replace_raw_chunk(self, path: str, first_line: int, data: bytes) -> None:
        """Put new text in place of a stored chunk's lines (same lines, redacted: `import --rederive --redact`)."""
        self.db.execute("UPDATE raw_chunks SET data = ? WHERE path = ? AND first_line = ?",
                        (compress(data), path, first_line))

    def raw_chunks(self, path: str) -> Iterator[tuple[int, bytes]]:
        """A source file's stored raw lines, chunk by chunk: (number of the first line, the lines joined by
        newlines, no trailing newline), in order."""
        for first, blob in self.db.execute(
            "SELECT first_line, data FROM raw_chunks WHERE path = ? ORDER BY first_line", (path,)
        ).fetchall():
            yield first, decompress(blob)

    def raw_lines(self, path: str) -> Iterator[tuple[int, bytes]]:
        """Every stored raw line of a source file as (line number, bytes), in order."""
        for first, chunk in self.raw_chunks(path):
            for i, line in enumerate(chunk.split(b"\n")):
                yield first + i, line

    def add_import_errors(self, path: str, errors: Iterable[tuple[int, str]]) -> None:
        errors = list(errors)
        if errors:
            stamp = now_iso()
            self.db.executemany(_IMPORT_ERROR_SQL,
                                [(path, line, message[:500], stamp) for line, message in errors])

    def import_errors(self, path: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT path, line_no, error FROM import_errors"
        params: tuple[Any, ...] = ()
        if path:
            sql += " WHERE path = ?"
            params = (path,)
        sql += " ORDER BY path, line_no LIMIT ?"
        return [dict(r) for r in self.db.execute(sql, (*params, limit))]

