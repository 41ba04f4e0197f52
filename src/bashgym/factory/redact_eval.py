"""Scoring a redactor on a labelled corpus: recall over planted secrets, precision over look-alikes.

A corpus document is {"text", "secrets": [{"kind", "value"}], "keep": [{"kind", "value"}], "clean": bool}
(tests/fixtures/redaction/corpus.jsonl); a secret may name its `category` (payment_card, phone, ...), which
the per-category figures group by (its kind otherwise). A planted value counts as removed only if no trace of it is left:
not the value, and for long values not even a 16-character piece of it (so half-redacting a key fails).
A look-alike counts as kept if it survives byte for byte; a clean document must come out unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

WINDOW = 16


def leaked(value: str, output: str) -> bool:
    """True when `value`, or for long values any 16-char slice of it, is still in `output`."""
    if value in output:
        return True
    if len(value) >= 24:
        return any(value[i:i + WINDOW] in output for i in range(0, len(value) - WINDOW + 1))
    return False


def score(docs: Iterable[dict[str, Any]], redact: Callable[[str], str]) -> dict[str, Any]:
    """Recall, precision and the misses of `redact` (a text → text function) over the corpus."""
    planted = removed = lookalikes = kept = clean = clean_unchanged = 0
    missed: list[dict[str, str]] = []
    wiped: list[dict[str, str]] = []
    missed_kinds: Counter[str] = Counter()
    per_category: dict[str, Counter[str]] = {}
    for doc in docs:
        out = redact(doc["text"])
        for item in doc["secrets"]:
            planted += 1
            tally = per_category.setdefault(item.get("category") or item["kind"], Counter())
            tally["planted"] += 1
            if leaked(item["value"], out):
                missed_kinds[item["kind"]] += 1
                missed.append({"id": doc["id"], **item})
            else:
                removed += 1
                tally["removed"] += 1
        for item in doc["keep"]:
            lookalikes += 1
            tally = per_category.setdefault("look-alike: " + item["kind"], Counter())
            tally["lookalikes"] += 1
            if item["value"] in out:
                kept += 1
                tally["kept"] += 1
            else:
                wiped.append({"id": doc["id"], **item})
        if doc.get("clean"):
            clean += 1
            clean_unchanged += out == doc["text"]
    kept_total = kept + clean_unchanged
    return {
        "planted": planted,
        "removed": removed,
        "recall": removed / planted if planted else 1.0,
        "lookalikes": lookalikes,
        "kept": kept,
        "clean_docs": clean,
        "clean_unchanged": clean_unchanged,
        # look-alikes kept plus clean documents left untouched, over both
        "precision": kept_total / (lookalikes + clean) if lookalikes + clean else 1.0,
        "missed": missed,
        "missed_kinds": dict(missed_kinds),
        "wiped": wiped,
        # {category: {planted, removed, recall}} for planted values; {"look-alike: kind": {lookalikes, kept, keep}}
        "by_category": {name: _rates(tally) for name, tally in sorted(per_category.items())},
    }


def _rates(tally: Counter[str]) -> dict[str, float | int]:
    if "planted" in tally:
        return {"planted": tally["planted"], "removed": tally["removed"],
                "recall": tally["removed"] / tally["planted"]}
    return {"lookalikes": tally["lookalikes"], "kept": tally["kept"], "keep": tally["kept"] / tally["lookalikes"]}
