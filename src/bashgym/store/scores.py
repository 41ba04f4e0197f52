"""The judge's scores (turn_idx = -1 is the whole session) and the queries a judge run asks."""

from __future__ import annotations

from typing import Any

from bashgym.store.base import Repo, upsert_sql
from bashgym.store.codec import decode_row, dumps, now_iso

_PUT_SCORE = upsert_sql("scores", "session_id, turn_idx, scorer, total, tier, metrics, created_at",
                        "session_id, turn_idx, scorer")


class ScoresRepo(Repo):
    """scores: one row per (session, turn, scorer)."""

    def put_score(
        self, session_id: str, turn_idx: int, scorer: str, total: float | None, tier: str | None,
        metrics: dict[str, Any],
    ) -> None:
        self.db.execute(_PUT_SCORE, (session_id, turn_idx, scorer, total, tier, dumps(metrics), now_iso()))

    def replace_scores(self, session_id: str, scorer: str, rows: list[tuple[int, float | None, str | None, str]]) -> None:
        """`scorer`'s scores of a session replaced by `rows`: (turn index, total, tier, metrics as JSON text),
        one statement for them all (the judge writes thousands)."""
        self.delete_scores(session_id, scorer)
        stamp = now_iso()
        self.db.executemany(_PUT_SCORE, [(session_id, turn_idx, scorer, total, tier, metrics, stamp)
                                         for turn_idx, total, tier, metrics in rows])

    def scores(self, session_id: str, scorer: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM scores WHERE session_id = ?"
        params: list[Any] = [session_id]
        if scorer:
            sql += " AND scorer = ?"
            params.append(scorer)
        rows = self.db.execute(sql + " ORDER BY turn_idx, scorer", params)
        return [decode_row(r, json_dicts=("metrics",)) for r in rows]

    def session_scores(self, session_ids: list[str], scorer: str = "heuristic") -> dict[str, dict[str, Any]]:
        """The session-level score rows (turn_idx = -1) of `scorer` for many sessions at once (a UI page)."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(session_ids), 500):
            chunk = session_ids[start:start + 500]
            rows = self.db.execute(
                f"SELECT * FROM scores WHERE scorer = ? AND turn_idx = -1 AND session_id IN ({','.join('?' * len(chunk))})",
                [scorer, *chunk],
            )
            out.update({r["session_id"]: r for r in (decode_row(r, json_dicts=("metrics",)) for r in rows)})
        return out

    # Which sessions still need scoring, the scores of one scorer across sessions (for `judge report`),
    # and clearing a scorer's rows before a rescore (a re-imported session may have fewer turns).

    def unscored_session_ids(self, scorer: str = "heuristic") -> list[str]:
        """Sessions with no session-level score from `scorer`, or re-imported since they were scored."""
        rows = self.db.execute(
            "SELECT s.id FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id AND sc.turn_idx = -1 "
            "AND sc.scorer = ? WHERE sc.session_id IS NULL OR sc.created_at < s.imported_at "
            "ORDER BY s.started_at, s.id",
            (scorer,),
        )
        return [r[0] for r in rows]

    def scores_by_scorer(self, scorer: str, *, turns: bool = False) -> list[dict[str, Any]]:
        """Every score of one scorer: session-level rows (turn_idx = -1), or turn rows when `turns`."""
        op = ">=" if turns else "="
        rows = self.db.execute(
            f"SELECT * FROM scores WHERE scorer = ? AND turn_idx {op} ? ORDER BY session_id, turn_idx",
            (scorer, 0 if turns else -1),
        )
        return [decode_row(r, json_dicts=("metrics",)) for r in rows]

    def delete_scores(self, session_id: str, scorer: str) -> None:
        self.db.execute("DELETE FROM scores WHERE session_id = ? AND scorer = ?", (session_id, scorer))
