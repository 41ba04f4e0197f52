"""Import source files into the store: idempotent, incremental, resumable, never fatal on bad lines.

For each file, in ONE transaction: read the bytes after the stored offset, keep them as compressed raw
lines, re-derive the file's sessions from all its raw lines, replace those sessions, record bad lines and
move the offset. A kill -9 at any point leaves the store as it was after the last finished file; rerunning
continues from there, so totals always equal a clean import. A file that did not change is skipped
without being read; a file that shrank or whose head changed is read again from the start.

A trailing line without a newline is left for the next run (the agent may still be writing it) unless it
already parses as JSON; it is reported as pending.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import queue
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bashgym.schema import Session
from bashgym.sources.base import Line, ParsedFile, SkipLine, SourceFormat
from bashgym.store import SourceFileState, Store, now_iso
from bashgym.store.codec import compress

HEAD_BYTES = 4096
MAX_ERRORS_KEPT = 200
BATCH_BYTES = 32 * 1024 * 1024
BATCH_FILES = 256


@dataclass
class ImportSummary:
    files: int = 0
    files_read: int = 0
    bytes_read: int = 0
    new_lines: int = 0
    sessions: int = 0
    steps: int = 0
    skipped_lines: int = 0
    pending_lines: int = 0
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    failed_files: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: ImportSummary) -> None:
        for name in ("files", "files_read", "bytes_read", "new_lines", "sessions", "steps", "skipped_lines",
                     "pending_lines"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[: max(0, MAX_ERRORS_KEPT - len(self.errors))])
        self.failed_files.extend(other.failed_files)

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files, "files_read": self.files_read, "bytes_read": self.bytes_read,
            "new_lines": self.new_lines, "sessions": self.sessions, "steps": self.steps,
            "skipped_lines": self.skipped_lines, "pending_lines": self.pending_lines,
            "errors": [{"path": p, "line": n, "error": e} for p, n, e in self.errors],
            "failed_files": [{"path": p, "error": e} for p, e in self.failed_files],
        }


def _head_hash(data: bytes) -> str:
    return hashlib.sha1(data[:HEAD_BYTES]).hexdigest()


def _split_lines(data: bytes, first_no: int = 1, *, views: bool = False,
                 skip: SkipLine | None = None) -> tuple[list[Line], int, bytes]:
    """The complete lines of `data` numbered from `first_no`; how many there were; the trailing partial line
    (b'' when data ends with a newline).

    Lines `skip` recognises (the format never needs them) are counted but not handed on: they are still kept
    raw. With `views`, lines are memoryviews into `data` (no copy), for parsers that take them (orjson does).
    """
    end = data.rfind(b"\n")
    if end < 0:
        return [], 0, data
    if skip is None and not views:
        lines = data[:end].split(b"\n")
        return list(enumerate(lines, first_no)), len(lines), data[end + 1 :]
    view = memoryview(data) if views else None
    out: list[Line] = []
    append = out.append
    find = data.find
    start = 0
    no = first_no
    while start <= end:
        stop = find(b"\n", start, end + 1)
        if skip is None or not skip(data, start, stop):
            append((no, view[start:stop] if view is not None else data[start:stop]))
        no += 1
        start = stop + 1
    return out, no - first_no, data[end + 1 :]


def _stored_lines(store: Store, key: str, fmt: SourceFormat) -> Iterator[Line]:
    """Every raw line kept for a file, numbered and filtered as a first read would hand them on; one stored
    chunk in memory at a time."""
    views = getattr(fmt, "takes_views", False)
    skip = getattr(fmt, "skip_line", None)
    for first, chunk in store.raw_chunks(key):
        yield from _split_lines(chunk + b"\n", first, views=views, skip=skip)[0]


@dataclass(slots=True)
class _Batch:
    """What all files of one import transaction share, read once when it begins (writes are serialised,
    so neither can change under it): the sessions that have a SessionStart context, and the time stamp;
    and the redactor of a redacting import (capture.redact), or None."""

    contexts: set[str]
    stamp: str
    redactor: Any = None

    @classmethod
    def begin(cls, store: Store, redactor: Any = None) -> _Batch:
        return cls(contexts=store.session_context_ids(), stamp=now_iso(), redactor=redactor)


def redact_raw(data: bytes, redactor: Any, location: str, first_line: int) -> bytes:
    """Source lines with every secret and personal value replaced, line for line (the count never changes).
    A line that was JSON stays JSON: if redacting its text broke that (an escape cut in two), its parsed
    object is redacted string by string and written again; a whole-file JSON document likewise."""
    lines = data.split(b"\n")
    out = []
    for n, raw in enumerate(lines, first_line):
        text = raw.decode("utf-8", "surrogateescape")
        red = redactor.redact_text(text, location, first_line=n)
        if red != text and _is_json(raw) and not _is_json(red.encode("utf-8", "surrogateescape")):
            red = orjson.dumps(redactor.redact_obj(orjson.loads(raw), f"{location}:{n}")).decode()
        out.append(red.encode("utf-8", "surrogateescape"))
    joined = b"\n".join(out)
    if len(lines) > 1 and joined != data and _is_json(data) and not _is_json(joined):
        joined = orjson.dumps(redactor.redact_obj(orjson.loads(data), location), option=orjson.OPT_INDENT_2)
    return joined


@dataclass(slots=True)
class _NewLines:
    """The complete new lines of a file's unread part (`to_parse`: those the format wants), how many, how
    many bytes they take, and whether an unfinished last line was left for later."""

    to_parse: list[Line]
    count: int
    consumed: int
    pending: bool


def _new_lines(fmt: SourceFormat, data: bytes, first_line: int) -> _NewLines:
    if not fmt.line_based:
        return _NewLines([(1, data)], 1, len(data), False)
    skip = getattr(fmt, "skip_line", None)
    to_parse, n_new, partial = _split_lines(data, first_line, views=getattr(fmt, "takes_views", False), skip=skip)
    pending = False
    if partial.strip():
        if _is_json(partial):
            if skip is None or not skip(partial, 0, len(partial)):
                to_parse.append((first_line + n_new, partial))
            n_new += 1
            partial = b""
        else:
            pending = True
    return _NewLines(to_parse, n_new, len(data) - len(partial), pending)


def _kept_bytes(fmt: SourceFormat, data: bytes, consumed: int) -> memoryview:
    """The raw lines to store: the consumed part of `data`, without its last newline."""
    end = consumed if fmt.line_based else len(data)
    if end and data[end - 1] == 0x0A:  # b"\n"
        end -= 1
    return memoryview(data)[:end]


@dataclass(slots=True)
class _ReadAhead:
    """A file the store did not know, read, split, parsed and its raw lines compressed before its batch took
    the write lock (`import_paths` with workers: one process parses while another writes). Used only if the
    store still does not know the file once the lock is held; the stat is the batch's, taken before either read."""

    data: bytes
    lines: _NewLines
    compressed: bytes | None
    parsed: ParsedFile


def _read_ahead(fmt: SourceFormat, path: Path, key: str) -> _ReadAhead | None:
    """`_ReadAhead` of a new file, or None when anything goes wrong (the locked pass then does it again
    and reports it as it always does)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        lines = _new_lines(fmt, data, 1)
        compressed = compress(_kept_bytes(fmt, data, lines.consumed)) if lines.count else None
        parsed = fmt.parse(key, lines.to_parse)
    except Exception:  # noqa: BLE001 - redone and reported under the lock
        return None
    return _ReadAhead(data, lines, compressed, parsed)


def _import_locked(store: Store, fmt: SourceFormat, path: Path, key: str, st: os.stat_result,
                   shared: _Batch, ahead: _ReadAhead | None = None) -> ImportSummary:
    """The work for one file (`st`: its stat, taken before reading); the caller holds the write transaction.
    With `shared.redactor` (capture.redact) only redacted lines are kept and parsed. `ahead`: the file read
    and parsed before the lock was taken, used if the store still does not know it."""
    summary = ImportSummary(files=1)
    state = store.source_file(key)  # re-read under the write lock: another importer may have run
    if state and state.size == st.st_size and state.mtime == st.st_mtime:
        return summary
    if ahead is not None and state is None and shared.redactor is None:
        data, start, restart = ahead.data, 0, True
        head = data[:HEAD_BYTES]
    else:
        ahead = None
        try:
            with open(path, "rb") as fh:
                head = fh.read(HEAD_BYTES)
                restart = (
                    state is None
                    or not fmt.line_based
                    or st.st_size < state.byte_offset
                    or state.head_hash != _head_hash(head[: min(HEAD_BYTES, state.byte_offset)])
                )
                start = 0 if restart else state.byte_offset  # type: ignore[union-attr]
                fh.seek(start)
                data = fh.read()
        except OSError as exc:
            summary.failed_files.append((key, f"cannot read: {exc}"))
            return summary
    if restart and state is not None:
        store.forget_source_file(key)
        old_sessions = state.session_ids
        state = None
    else:
        old_sessions = state.session_ids if state else []
    first_line = (state.line_count if state else 0) + 1
    summary.files_read = 1
    summary.bytes_read = len(data)

    new = ahead.lines if ahead is not None else _new_lines(fmt, data, first_line)
    to_parse, n_new, consumed = new.to_parse, new.count, new.consumed
    if new.pending:
        summary.pending_lines = 1
        summary.errors.append((key, first_line + n_new, "truncated last line (no newline, not valid JSON yet); "
                               "it will be read when the file grows"))

    if not n_new and state is not None:
        state.size, state.mtime = st.st_size, st.st_mtime
        store.put_source_file(state, shared.stamp)
        return summary

    if n_new and ahead is not None:
        store.add_raw_chunk(key, first_line, n_new, start, start + consumed, compressed=ahead.compressed)
    elif n_new:
        kept: bytes | memoryview = _kept_bytes(fmt, data, consumed)
        if shared.redactor is not None:  # only redacted text reaches the store, raw lines included
            kept = redact_raw(bytes(kept), shared.redactor, key, first_line)
            to_parse = (_split_lines(kept + b"\n", first_line, views=getattr(fmt, "takes_views", False),
                                     skip=getattr(fmt, "skip_line", None))[0] if fmt.line_based else [(1, kept)])
        store.add_raw_chunk(key, first_line, n_new, start, start + consumed, kept)
    # A grown file is parsed again whole, from its stored lines: sessions are derived from all of them.
    parsed = ahead.parsed if ahead is not None else fmt.parse(
        key, _stored_lines(store, key, fmt) if start > 0 else to_parse)

    new_ids = [s.id for s in parsed.sessions]
    summary.steps = _replace_sessions(store, key, old_sessions, parsed, shared)
    new_errors = [(n, e) for n, e in parsed.errors if n >= first_line]
    store.add_import_errors(key, new_errors)
    summary.sessions = len(parsed.sessions)
    summary.new_lines = n_new
    summary.skipped_lines = len(new_errors)
    summary.errors.extend((key, n, e) for n, e in new_errors[:MAX_ERRORS_KEPT])
    store.put_source_file(
        SourceFileState(
            path=key, source=fmt.source, size=st.st_size, mtime=st.st_mtime,
            byte_offset=start + consumed, line_count=first_line - 1 + n_new,
            head_hash=_head_hash(head[: min(HEAD_BYTES, start + consumed)]),
            session_ids=new_ids, skipped_lines=(state.skipped_lines if state else 0) + len(new_errors),
        ),
        shared.stamp,
    )
    return summary


class _BatchFailed(Exception):
    """A file of a batch raised: the batch is rolled back and redone one file per transaction."""


def _import_alone(store: Store, fmt: SourceFormat, path: Path, key: str, st: os.stat_result,
                  redactor: Any = None) -> ImportSummary:
    """One file in its own transaction; what goes wrong is reported against the file, never raised."""
    try:
        with store.transaction():
            return _import_locked(store, fmt, path, key, st, _Batch.begin(store, redactor))
    except Exception as exc:  # noqa: BLE001
        return ImportSummary(files=1, failed_files=[(key, f"{type(exc).__name__}: {exc}")])


def _replace_sessions(store: Store, key: str, old_ids: list[str], parsed: ParsedFile, shared: _Batch) -> int:
    """Store a file's newly parsed sessions in place of the ones it had (gone ones deleted); returns their
    steps."""
    new_ids = {s.id for s in parsed.sessions}
    for sid in old_ids:
        if sid not in new_ids:  # save_session replaces the others whole
            store.delete_session_rows(sid)
    steps = 0
    for session in parsed.sessions:
        session.source_path = session.source_path or key
        _add_start_context(store, session, shared.contexts)
        store.save_session(session, shared.stamp)
        steps += sum(len(t.steps) for t in session.turns)
    return steps


def _add_start_context(store: Store, session: Session, contexts: set[str]) -> None:
    """The git commit the SessionStart hook saw, when the transcript itself does not say."""
    root_id = session.parent_id or session.id
    if session.git_commit or root_id not in contexts:
        return
    context = store.session_context(root_id)
    if context and context["git_commit"]:
        session.git_commit = context["git_commit"]
        if context["git_dirty"] is not None:
            session.meta["git_dirty_at_start"] = bool(context["git_dirty"])


def source_key(path: Path, real_dirs: dict[str, str]) -> tuple[str, os.stat_result]:
    """(the file's resolved path, its stat): the key a source file is stored under.

    Same result as `str(path.resolve())` plus a stat, for one lstat per file: each directory's real
    path is looked up once (`real_dirs` caches them) and only a file that is itself a symlink is
    resolved in full. An import walks thousands of files in a few directories.
    """
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return str(path.resolve()), os.stat(path)
    parent, name = os.path.split(os.fspath(path))
    real = real_dirs.get(parent)
    if real is None:
        real = real_dirs[parent] = os.path.realpath(parent)
    return os.path.join(real, name), st


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
        return True
    except orjson.JSONDecodeError:
        return False


class _Tally:
    """An import's running summary and its caller's per-file callback: every file's result, however it ended
    (imported, unchanged, failed, lost with its process), is added here once."""

    def __init__(self, on_file: Callable[[Path, ImportSummary], None] | None) -> None:
        self.total = ImportSummary()
        self.on_file = on_file

    def add(self, path: Path, result: ImportSummary) -> None:
        self.total.merge(result)
        if self.on_file:
            self.on_file(path, result)


def import_paths(
    store: Store, fmt: SourceFormat, files: list[Path], on_file: Callable[[Path, ImportSummary], None] | None = None,
    redactor: Any = None, workers: int = 1,
) -> ImportSummary:
    """Import many files; one bad file is reported and skipped, never fatal. With a `redactor`
    (`apply_redaction.capture_redactor`), the store keeps only redacted text, raw lines included.

    Changed files are committed in batches (up to BATCH_BYTES of new data or BATCH_FILES files per
    transaction): fewer commits, and a kill still loses at most the batch in flight, which the next run
    redoes. A file that fails rolls its whole batch back, and that batch is redone one file per
    transaction, so only the broken file is left out. (Per-file savepoints would isolate it without the
    redo, but SQLite then journals every page a file touches again: about a tenth of an import's time.)

    `workers` > 1: that many processes import a share of the files each, every one of them reading and
    parsing a batch's new files before it takes the write lock, so one parses while another writes (a
    redacting import runs in this process alone: its placeholders come from one redactor).
    """
    if workers > 1 and redactor is None and len(files) > 1:
        return _import_in_processes(store, fmt, files, on_file, workers)
    return _import_here(store, fmt, files, on_file, redactor, read_ahead=False)


def _import_here(store: Store, fmt: SourceFormat, files: list[Path],
                 on_file: Callable[[Path, ImportSummary], None] | None, redactor: Any, *,
                 read_ahead: bool) -> ImportSummary:
    """`import_paths` in this process; `read_ahead`: a batch's new files are read and parsed before its
    transaction (only worth it when another process writes meanwhile: the batch is held in memory)."""
    tally = _Tally(on_file)
    batch: list[tuple[Path, str, os.stat_result, bool]] = []

    def flush() -> None:
        if not batch:
            return
        ahead = {key: _read_ahead(fmt, path, key) for path, key, _, new in batch if new} if read_ahead else {}
        try:
            with store.transaction():  # not getting the write lock is the caller's error, as before
                shared = _Batch.begin(store, redactor)
                try:
                    results = [_import_locked(store, fmt, path, key, st, shared, ahead.get(key))
                               for path, key, st, _ in batch]
                except Exception as exc:  # noqa: BLE001 - one broken file must not stop the rest
                    raise _BatchFailed from exc  # rolls the batch back
        except _BatchFailed:  # redo it a file per transaction: only the broken file is left out
            results = [_import_alone(store, fmt, path, key, st, redactor) for path, key, st, _ in batch]
        for (path, _, _, _), result in zip(batch, results, strict=True):
            tally.add(path, result)
        batch.clear()

    with store.background_checkpoints():
        _import_all(store, files, tally, batch, flush)
    return tally.total


def _import_all(store: Store, files: list[Path], tally: _Tally,
                batch: list[tuple[Path, str, os.stat_result, bool]], flush: Callable[[], None]) -> None:
    marks = store.source_file_marks()  # one query, not one per file: most files of a rerun are unchanged
    real_dirs: dict[str, str] = {}
    pending = 0
    for path in files:
        try:
            key, st = source_key(path, real_dirs)
        except OSError as exc:
            tally.add(path, ImportSummary(files=1, failed_files=[(str(path.absolute()), f"cannot stat: {exc}")]))
            continue
        size, mtime, offset = marks.get(key, (-1, -1.0, 0))
        if size == st.st_size and mtime == st.st_mtime:
            tally.add(path, ImportSummary(files=1))
            continue
        batch.append((path, key, st, key not in marks))
        pending += max(0, st.st_size - offset)
        if pending >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            flush()
            pending = 0
    flush()


def _shares(files: list[Path], workers: int) -> list[list[Path]]:
    """`files` cut into `workers` runs of consecutive files of about the same size (in bytes)."""
    sizes = [file_size(f) for f in files]
    per, shares, current, filled = max(1, sum(sizes)) / workers, [], [], 0
    for path, size in zip(files, sizes, strict=True):
        current.append(path)
        filled += size
        if filled >= per * (len(shares) + 1) and len(shares) < workers - 1:
            shares.append(current)
            current = []
    return [share for share in [*shares, current] if share]


def _import_in_processes(store: Store, fmt: SourceFormat, files: list[Path],
                         on_file: Callable[[Path, ImportSummary], None] | None, workers: int) -> ImportSummary:
    """`import_paths` over `workers` forked processes, each with its own connection to the store and a share
    of the files; their per-file results come back here (progress, the summary) as they commit. A process
    that dies (killed) has its files not reported yet listed as failed: the next import reads them again."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    shares = _shares(files, workers)
    procs = [ctx.Process(target=_import_share, args=(store.location, fmt, share, n, results), daemon=True)
             for n, share in enumerate(shares)]
    for proc in procs:
        proc.start()
    tally, reported = _Tally(on_file), set()
    running = set(range(len(procs)))
    while running:
        try:
            kind, n, payload = results.get(timeout=0.5)
        except queue.Empty:
            for n in [n for n in running if not procs[n].is_alive()]:
                running.discard(n)
                _lost(shares[n], reported, f"the import process died (exit code {procs[n].exitcode})", tally)
            continue
        if kind == "file":
            path, result = payload
            reported.add(path)
            tally.add(path, result)
        else:  # "end": payload is None, or why the process stopped
            running.discard(n)
            if payload:
                _lost(shares[n], reported, payload, tally)
    for proc in procs:
        proc.join()
    return tally.total


def _lost(share: list[Path], reported: set[Path], why: str, tally: _Tally) -> None:
    for path in share:
        if path not in reported:
            tally.add(path, ImportSummary(files=1, failed_files=[(str(path.absolute()), f"not imported: {why}")]))


def _import_share(location: str, fmt: SourceFormat, files: list[Path], n: int, results: Any) -> None:
    """Forked import process `n`: its share of the files, each result sent back as its batch commits. Leaves
    with os._exit: what it inherited (the parent's connection) must not be closed or finalised here."""
    why = None
    try:
        with Store(location) as store:
            _import_here(store, fmt, files, lambda path, result: results.put(("file", n, (path, result))), None,
                         read_ahead=True)
    except BaseException as exc:  # noqa: BLE001 - reported by the parent against the files not done
        why = f"{type(exc).__name__}: {exc}"
    results.put(("end", n, why))
    results.close()
    results.join_thread()
    os._exit(0)


def rederive(store: Store, fmt: SourceFormat, paths: list[str] | None = None, redactor: Any = None) -> ImportSummary:
    """Re-parse stored raw lines (after a parser fix) without reading the source files again; with a
    `redactor`, first replace the stored lines by their redacted text (lines stored before capture.redact)."""
    total = ImportSummary()
    for state in store.source_files(fmt.source):
        if paths and state.path not in paths:
            continue
        with store.transaction():
            shared = _Batch.begin(store)
            if redactor is not None:
                for first, chunk in list(store.raw_chunks(state.path)):
                    redacted = redact_raw(chunk, redactor, state.path, first)
                    if redacted != chunk:
                        store.replace_raw_chunk(state.path, first, redacted)
            parsed = fmt.parse(state.path, _stored_lines(store, state.path, fmt))
            total.steps += _replace_sessions(store, state.path, state.session_ids, parsed, shared)
            state.session_ids = [s.id for s in parsed.sessions]
            store.put_source_file(state, shared.stamp)
        total.files += 1
        total.sessions += len(parsed.sessions)
    return total


def file_size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
