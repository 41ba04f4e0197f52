"""Read the judge's results back for other stages: `sessions show --json`, the UI and the factory.

Human labels are kept apart from computed scores; which wins is `bashgym.quality`'s to say.
"""

from __future__ import annotations

import re
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


_TURN_PREFIX = re.compile(r"^turn (\d+): ")


def explain_rows(stored: dict[str, Any], turn_idx: int = -1) -> list[dict[str, Any]]:
    """The metrics of one stored judgement (`Judgement.to_store`), heaviest first, as `judge explain` and
    the UI show them: name, value, weight, note and evidence, each evidence item with the turn and step it
    cites. A session-level judgement's evidence names its turn ("turn 2: ...", `score_session`); a turn's
    is its own. Step -1 is the turn's prompt.

    >>> stored = {"metrics": {"tests": {"value": 0.0, "weight": 2.0, "note": "last test run failed",
    ...           "evidence": [{"step": 3, "text": "turn 1: exit 1 ModuleNotFoundError"}]}}}
    >>> explain_rows(stored)[0]["evidence"]
    [{'turn': 1, 'step': 3, 'text': 'exit 1 ModuleNotFoundError'}]
    """
    rows = []
    metrics = stored.get("metrics") if isinstance(stored.get("metrics"), dict) else {}
    for name, m in metrics.items():
        if not isinstance(m, dict) or "value" not in m:
            continue
        evidence = []
        for e in m.get("evidence") or []:
            text, turn = str(e.get("text", "")), turn_idx
            match = _TURN_PREFIX.match(text)
            if match and turn_idx < 0:
                turn, text = int(match.group(1)), text[match.end():]
            evidence.append({"turn": turn, "step": e.get("step"), "text": text})
        rows.append({"name": name, "value": float(m["value"]), "weight": float(m.get("weight") or 0.0),
                     "note": str(m.get("note") or ""), "evidence": evidence})
    rows.sort(key=lambda r: (-r["weight"], r["name"]))
    return rows


def why_line(stored: dict[str, Any]) -> str:
    """One line saying why a judgement got its tier: the detectors that fired, the caps, and the metrics
    that cost the most with their notes; "" when nothing cost anything (or it was never judged).

    >>> why_line({"metrics": {"tests": {"value": 0.0, "weight": 2, "note": "last test run failed"}},
    ...           "drivers": ["tests"], "caps": ["tests=0.00 caps the total at 0.55"]})
    'tests: last test run failed · tests=0.00 caps the total at 0.55'
    """
    metrics = stored.get("metrics") if isinstance(stored.get("metrics"), dict) else {}
    parts = [f"flagged: {f}" for f in stored.get("flags") or []]
    for name in stored.get("drivers") or []:
        note = (metrics.get(name) or {}).get("note") if isinstance(metrics.get(name), dict) else None
        parts.append(f"{name}: {note}" if note else name)
    parts += [str(c) for c in stored.get("caps") or []]
    return " · ".join(parts)
