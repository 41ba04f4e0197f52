"""The quality policy: which tier a judged, perhaps labelled, session or turn has. One rule, one place.

Every stage asks here: `sessions list/show/stats` (through the store's SQL, built from these tables), the
factory's selection, the UI and the judge's explain. The rules:

- **Label rows merge field by field.** `bashgym label` writes partial rows (a label or a tier), the UI
  writes the fields it changed; the state of a target (a turn, or -1 for the session) is, per field
  (`label`, `tier`, `note`), the newest row that set it. An empty string clears a field.
- **Label synonyms.** `good`, `keep`, `accept`, `pass`, ... mean good; `bad`, `reject`, `fail`, ... mean bad
  (`normalize_label`). Other labels (`exclude`) are kept as written; they decide no tier.
- **Which wins.** A person's word wins over the judge: `bad` → failed (a rejection wins over any tier);
  else a label's `tier=X` → X; else `good` → gold; else the judge's tier (None when never judged).

>>> effective_tier("silver", merge_labels([{"turn_idx": -1, "label": "good"}])[-1])
'gold'
>>> effective_tier("gold", merge_labels([{"turn_idx": -1, "tier": "silver"}, {"turn_idx": -1, "label": "good"}])[-1])
'silver'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bashgym.schema import TIERS

TIER_RANK = {"gold": 0, "silver": 1, "bronze": 2, "failed": 3}  # lower is better
DESIRABLE_TIERS = ("gold", "silver")  # what a dataset trains on by default; KTO's desirable, DPO's chosen
UNDESIRABLE_TIERS = ("bronze", "failed")  # KTO's undesirable, DPO's rejected
GOOD_LABELS = frozenset({"good", "gold", "keep", "accept", "accepted", "positive", "pass", "approve", "approved"})
BAD_LABELS = frozenset({"bad", "failed", "reject", "rejected", "negative", "fail", "cheat", "cheating"})
LABEL_FIELDS = ("label", "tier", "note")
__all__ = ["TIERS", "LabelState", "effective_tier", "is_desirable", "merge_labels", "normalize_label"]


def normalize_label(label: str | None) -> str | None:
    """'good' or 'bad' for a label or any synonym; another label lower-cased; None for none.

    >>> normalize_label("Accepted"), normalize_label("reject"), normalize_label("exclude"), normalize_label("")
    ('good', 'bad', 'exclude', None)
    """
    if not label or not label.strip():
        return None
    text = label.strip().lower()
    if text in GOOD_LABELS:
        return "good"
    if text in BAD_LABELS:
        return "bad"
    return text


@dataclass(slots=True)
class LabelState:
    """A target's merged label: each field from the newest row that set it; `history` = its rows, oldest first."""

    label: str | None = None
    tier: str | None = None
    note: str | None = None
    author: str | None = None
    created_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def human_tier(self) -> str | None:
        """The tier a person gave, by the rules above, or None when the label decides no tier."""
        verdict = normalize_label(self.label)
        if verdict == "bad":
            return "failed"
        if self.tier:
            return self.tier
        if verdict == "good":
            return "gold"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "tier": self.tier, "note": self.note, "author": self.author,
                "created_at": self.created_at}


def merge_labels(rows: Iterable[Mapping[str, Any]]) -> dict[int, LabelState]:
    """Label rows (oldest first, as the store keeps them) → the merged state per target (turn_idx; -1 = session).

    A field that is None in a row leaves the earlier value; "" clears it.
    """
    out: dict[int, LabelState] = {}
    for row in rows:
        state = out.setdefault(int(row.get("turn_idx", -1)), LabelState())
        for name in LABEL_FIELDS:
            value = row.get(name)
            if value is not None:
                setattr(state, name, value or None)
        state.author, state.created_at = row.get("author"), row.get("created_at")
        state.history.append(dict(row))
    return out


def effective_tier(judged: str | None, label: LabelState | None) -> str | None:
    """The tier everything downstream uses: a person's (see the rules above), else the judge's."""
    human = label.human_tier if label is not None else None
    return human or judged


def quality_from(judged: str | None, label: LabelState | None) -> str:
    """Which decided the effective tier: 'label', 'score' (the judge) or 'none'."""
    if label is not None and label.human_tier:
        return "label"
    return "score" if judged else "none"


def is_desirable(tier: str | None) -> bool | None:
    """True for gold/silver (train on it), False for bronze/failed (an example of what not to do), None if unknown."""
    if tier in DESIRABLE_TIERS:
        return True
    if tier in UNDESIRABLE_TIERS:
        return False
    return None


def worst_tier(tiers: Iterable[str | None]) -> str | None:
    """The weakest of several tiers (an example spanning turns is as good as its worst turn)."""
    known = [t for t in tiers if t in TIER_RANK]
    return max(known, key=TIER_RANK.__getitem__) if known else None
