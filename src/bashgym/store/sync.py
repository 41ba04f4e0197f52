"""`bashgym sync`: push this machine's store (sessions with their raw lines, scores, labels, curation lists)
into a team store, stamped with who and which machine they came from.

Incremental: the local `sync_state` table remembers, per target, the stamp of everything pushed (a
session's imported_at, its newest score, the highest label id, ...); only what changed since is sent.
Idempotent: every write is an upsert keyed the same on both sides (labels by machine id + local id), so
pushing twice equals pushing once. Resumable: sessions go in batches, each committed on the server before
its stamps are recorded here; after a kill -9 the next run sends the unrecorded batch again, harmlessly.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bashgym.schema import Session
from bashgym.store.codec import compress, decompress
from bashgym.store.facade import Store

# A batch is committed when it holds this many sessions or this many steps, whichever comes first: big
# enough that commits are not the cost, small enough that a kill loses little work.
BATCH_SESSIONS = int(os.environ.get("BASHGYM_SYNC_BATCH", "200"))
BATCH_STEPS = 20_000


@dataclass
class SyncSummary:
    """What a sync did; `--json` prints it as is (never the target's password)."""

    target: str
    user: str
    machine: str
    redacted: bool
    sessions_sent: int = 0
    sessions_unchanged: int = 0
    scores_sent: int = 0
    labels_sent: int = 0
    labels_new: int = 0
    curation_sent: int = 0
    raw_files_sent: int = 0
    raw_chunks_sent: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def default_user() -> str:
    return os.environ.get("BASHGYM_USER") or getpass.getuser()


def default_machine() -> str:
    return os.environ.get("BASHGYM_MACHINE") or socket.gethostname()


class _Redaction:
    """--redact: every text that leaves this machine goes through the factory's redactor first."""

    def __init__(self) -> None:
        from bashgym.factory.apply_redaction import make_redactor

        self.r = make_redactor()

    def session(self, s: Session) -> Session:
        r = self.r
        data = s.to_dict()
        data["turns"] = [r.redact_obj(t, f"{s.id}/turn{t['index']}") for t in data["turns"]]
        for key in ("project", "cwd", "title", "git_branch", "source_path"):
            if data.get(key):
                data[key] = r.redact_text(data[key], f"{s.id}/session.{key}")
        data["meta"] = r.redact_obj(data.get("meta") or {}, f"{s.id}/meta")
        return Session.from_dict(data)

    def text(self, value: str | None, where: str) -> str | None:
        return self.r.redact_text(value, where) if value else value

    def obj(self, value: Any, where: str) -> Any:
        return self.r.redact_obj(value, where)

    def chunk(self, data: bytes, where: str) -> bytes:
        text = decompress(data).decode("utf-8", "surrogateescape")
        return compress(self.r.redact_text(text, where).encode("utf-8", "surrogateescape"))


def sync(
    local: Store, target: Store, *, user: str | None = None, machine: str | None = None, redact: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncSummary:
    """Push what changed in `local` since the last sync into `target`; returns what was sent."""
    start = time.perf_counter()
    key = target.describe()  # the target's address without its password: names this target's stamps
    summary = SyncSummary(target=key, user=user or default_user(), machine=machine or default_machine(),
                          redacted=redact)
    origin = (summary.user, summary.machine)
    machine_id = local.machine_id()
    red = _Redaction() if redact else None
    mode = "redacted" if redact else "plain"  # switching --redact on or off sends everything again

    # ---- sessions (+ their scores), in batches
    marks = local.sync_marks(key, "session")
    score_marks = local.sync_marks(key, "scores")
    score_stamps = local.score_stamps()
    todo: list[tuple[str, str, int]] = []
    for sid, imported_at, n_steps in local.session_stamps():
        stamp = f"{imported_at}|{mode}"
        if marks.get(sid) != stamp:
            todo.append((sid, stamp, n_steps))
        elif score_stamps.get(sid) and score_marks.get(sid) != score_stamps[sid]:
            todo.append((sid, "", 0))  # only its scores changed
        else:
            summary.sessions_unchanged += 1
    done = 0
    if on_progress:
        on_progress(0, len(todo))
    batch: list[tuple[str, str]] = []
    steps = 0
    for i, (sid, stamp, n_steps) in enumerate(todo):
        batch.append((sid, stamp))
        steps += n_steps
        if len(batch) >= BATCH_SESSIONS or steps >= BATCH_STEPS or i == len(todo) - 1:
            _push_sessions(local, target, batch, key, origin, red, summary, score_stamps)
            done += len(batch)
            batch, steps = [], 0
            if on_progress:
                on_progress(done, len(todo))

    # ---- labels: every row above the highest id pushed, told apart on the server by this machine's id
    last = int(local.sync_marks(key, "labels").get("max_id", "0"))
    labels = local.labels_after(last)
    if labels:
        for lab in labels:
            lab["origin"] = f"{machine_id}:{lab['id']}"
            if red:
                lab["note"] = red.text(lab["note"], f"label{lab['id']}.note")
        with target.transaction():
            summary.labels_new = target.put_synced_labels(labels)
        summary.labels_sent = len(labels)
        local.set_sync_marks(key, "labels", [("max_id", str(max(lab["id"] for lab in labels)))])

    # ---- curation lists: rows added since the newest one pushed
    since = local.sync_marks(key, "curation").get("added_at", "")
    rows = local.curation_rows_after(since)
    if rows:
        if red:
            for row in rows:
                row["note"] = red.text(row["note"], f"curation:{row['name']}")
        with target.transaction():
            target.put_curation_rows(rows)
        summary.curation_sent = len(rows)
        local.set_sync_marks(key, "curation", [("added_at", max(r["added_at"] for r in rows))])

    # ---- raw lines, per source file, under "user@machine:path" (paths of two machines may be equal); files
    # go in batches like sessions, each committed there before its stamps are recorded here
    file_marks = local.sync_marks(key, "raw")
    pending = [(path, f"{stamp}|{mode}") for path, stamp in local.source_file_stamps()
               if file_marks.get(path) != f"{stamp}|{mode}"]
    for i in range(0, len(pending), BATCH_SESSIONS):
        files = []
        for path, stamp in pending[i:i + BATCH_SESSIONS]:
            state = local.source_file(path)
            if state is None:  # forgotten since we listed it
                continue
            chunks = list(local.raw_chunk_rows(path))
            if red:
                chunks = [(*c[:4], red.chunk(c[4], f"{path}:{c[0]}")) for c in chunks]
            remote = dataclasses.replace(state, path=f"{summary.user}@{summary.machine}:{path}")
            files.append((remote, stamp.split("|")[0], chunks))
            summary.raw_chunks_sent += len(chunks)
        with target.transaction():
            target.put_raw_files(files)
        local.set_sync_marks(key, "raw", pending[i:i + BATCH_SESSIONS])
        summary.raw_files_sent += len(files)
    summary.seconds = round(time.perf_counter() - start, 3)
    return summary


def _push_sessions(
    local: Store, target: Store, batch: list[tuple[str, str]], key: str, origin: tuple[str, str],
    red: _Redaction | None, summary: SyncSummary, score_stamps: dict[str, str],
) -> None:
    """One batch in one server transaction, then its stamps here. Sessions go in id order, so two machines
    pushing the same sessions take their locks in the same order (no deadlock)."""
    imported = {sid: stamp.split("|")[0] for sid, stamp in batch if stamp}
    full = [sid for sid in imported if local.session_exists(sid)]
    sessions = [local.get_session(sid) for sid in full]
    if red:
        sessions = [red.session(s) for s in sessions]
    scores = local.scores_of([sid for sid, _ in batch])
    if red:
        for row in scores:
            row["metrics"] = red.obj(row["metrics"], f"{row['session_id']}/score")
    for attempt in range(5):
        try:
            with target.transaction():
                # The search index is derived data, built by the first search (as after a local import).
                target.save_sessions([(s, imported[s.id]) for s in sessions], origin=origin)
                target.delete_scores_of([s.id for s in sessions])  # of the old content
                target.put_scores(scores)
            break
        except Exception as exc:  # a deadlock or serialization failure: the batch is retried whole
            if getattr(getattr(exc, "diag", None), "sqlstate", None) not in ("40001", "40P01") or attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    local.set_sync_marks(key, "session", [(sid, stamp) for sid, stamp in batch if stamp])
    local.set_sync_marks(key, "scores", [(sid, score_stamps[sid]) for sid, _ in batch if sid in score_stamps])
    summary.sessions_sent += len(full)
    summary.scores_sent += len(scores)
