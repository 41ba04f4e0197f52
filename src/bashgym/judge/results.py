"""Read the judge's results back for other stages: `sessions show --json`, the UI and the factory.

Human labels are kept apart from computed scores; which wins is `bashgym.quality`'s to say.
"""

from __future__ import annotations

from typing import Any

from bashgym.judge.runner import HEURISTIC, LLM, VERIFY
from bashgym.quality import LabelState, effective_tier
from bashgym.store import Store


def _flat(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v.get("value") for k, v in (metrics.get("metrics") or {}).items()}


def _entry(row: dict[str, Any] | None, extra: dict[str, dict[str, Any]], label: LabelState | None) -> dict[str, Any]:
    stored = row["metrics"] if row else {}
    out: dict[str, Any] = {
        "score": row["total"] if row else None,
        "tier": row["tier"] if row else None,
        "metrics": _flat(stored),
        "drivers": stored.get("drivers", []),
        "caps": stored.get("caps", []),
        "scored_at": row["created_at"] if row else None,
    }
    for scorer, r in extra.items():
        out[scorer] = {"score": r["total"], "note": r["metrics"].get("note"), "at": r["created_at"]}
    out["label"] = label.to_dict() if label else None
    out["effective_tier"] = effective_tier(out["tier"], label)
    return out


def session_judgement(store: Store, session_id: str) -> dict[str, Any]:
    """{"score", "tier", "metrics", ..., "turns": {turn index: {"turn", "score", "tier", "metrics", ...}}}.

    `score`/`tier` are None when the session was never judged (run `bashgym judge`). `metrics` maps each
    metric name to its value in [0,1]; `drivers` names the metrics that cost the most; `label` is the
    merged human label and `effective_tier` the tier `bashgym.quality` gives.
    """
    rows = store.scores(session_id)
    labels = store.latest_labels(session_id)
    by_turn: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_turn.setdefault(r["turn_idx"], {})[r["scorer"]] = r
    turn_ids = sorted({i for i in by_turn if i >= 0} | {i for i in labels if i >= 0})
    session = by_turn.get(-1, {})
    result = _entry(session.get(HEURISTIC), {k: v for k, v in session.items() if k in (VERIFY, LLM)},
                    labels.get(-1))
    result["turns"] = {}
    for idx in turn_ids:
        scorers = by_turn.get(idx, {})
        entry = _entry(scorers.get(HEURISTIC), {k: v for k, v in scorers.items() if k in (VERIFY, LLM)},
                       labels.get(idx))
        result["turns"][idx] = {"turn": idx, **entry}
    return result
