"""Human labels: append-only rows, merged per target (session or turn) field by field (`bashgym.quality`)."""

from __future__ import annotations

from typing import Any

from bashgym import quality
from bashgym.store.base import Repo
from bashgym.store.codec import now_iso


class LabelsRepo(Repo):
    """labels: turn_idx = -1 labels the whole session; labels win over the judge's scores."""

    def add_label(
        self, session_id: str, turn_idx: int, *, label: str | None = None, tier: str | None = None,
        note: str | None = None, author: str | None = None,
    ) -> int:
        row = self.db.execute(
            "INSERT INTO labels (session_id, turn_idx, label, tier, note, author, created_at) "
            "VALUES (?,?,?,?,?,?,?) RETURNING id",
            (session_id, turn_idx, label, tier, note, author, now_iso()),
        ).fetchone()
        return int(row[0])

    def labels(self, session_id: str | None = None) -> list[dict[str, Any]]:
        if session_id is None:
            rows = self.db.execute("SELECT * FROM labels ORDER BY id")
        else:
            rows = self.db.execute("SELECT * FROM labels WHERE session_id = ? ORDER BY id", (session_id,))
        return [dict(r) for r in rows]

    def latest_labels(self, session_id: str) -> dict[int, quality.LabelState]:
        """The merged label per turn (turn -1 = session), field by field as `quality.merge_labels` says."""
        return quality.merge_labels(self.labels(session_id))

    def labels_for_sessions(self, session_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Every label row of the given sessions, oldest first, grouped by session."""
        out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in session_ids}
        if not session_ids:
            return out
        marks = ",".join("?" * len(session_ids))
        for r in self.db.execute(f"SELECT * FROM labels WHERE session_id IN ({marks}) ORDER BY id", session_ids):
            out[r["session_id"]].append(dict(r))
        return out
