"""pass@k with the unbiased estimator (Chen et al. 2021) and the summaries `bashgym eval` prints.

Rollouts without a score (infrastructure failures) are left out of n: they are neither passes nor fails.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes.

    1 - C(n-c, k) / C(n, k) with exact integer binomials. With n < k (some samples got no score), k is
    clamped to n: the best estimate the scored samples allow.

    >>> pass_at_k(5, 2, 1)
    0.4
    >>> round(pass_at_k(5, 2, 2), 4)
    0.7
    >>> pass_at_k(5, 0, 5), pass_at_k(5, 5, 1)
    (0.0, 1.0)
    """
    if n <= 0:
        raise ValueError("pass@k needs at least one scored sample")
    if not 0 <= c <= n:
        raise ValueError(f"correct count {c} outside 0..{n}")
    k = min(k, n)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def summarize(rollouts: Iterable[Mapping[str, Any]], k: int) -> dict[str, Any]:
    """Per-task, per-category and overall pass@1 / pass@k, tokens and counts from rollout rows.

    Each rollout has task_id, status ("passed" | "failed" | "error"), and optionally category,
    prompt_tokens, completion_tokens. Means are over tasks with at least one scored sample.
    """
    tasks: dict[str, dict[str, Any]] = {}
    for r in rollouts:
        t = tasks.setdefault(
            r["task_id"],
            {"task_id": r["task_id"], "category": r.get("category") or "other", "n": 0, "c": 0, "errors": 0,
             "prompt_tokens": 0, "completion_tokens": 0},
        )
        if r.get("category"):
            t["category"] = r["category"]
        t["prompt_tokens"] += int(r.get("prompt_tokens") or 0)
        t["completion_tokens"] += int(r.get("completion_tokens") or 0)
        if r["status"] == "error":
            t["errors"] += 1
            continue
        t["n"] += 1
        t["c"] += r["status"] == "passed"
    for t in tasks.values():
        t["pass@1"] = pass_at_k(t["n"], t["c"], 1) if t["n"] else None
        t[f"pass@{k}"] = pass_at_k(t["n"], t["c"], k) if t["n"] else None

    def group(rows: list[dict[str, Any]]) -> dict[str, Any]:
        scored = [t for t in rows if t["n"]]
        out: dict[str, Any] = {
            "tasks": len(rows),
            "scored_tasks": len(scored),
            "samples": sum(t["n"] for t in rows),
            "passed": sum(t["c"] for t in rows),
            "errors": sum(t["errors"] for t in rows),
            "prompt_tokens": sum(t["prompt_tokens"] for t in rows),
            "completion_tokens": sum(t["completion_tokens"] for t in rows),
        }
        for key in ("pass@1", f"pass@{k}"):
            out[key] = sum(t[key] for t in scored) / len(scored) if scored else None
        return out

    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in tasks.values():
        by_category[t["category"]].append(t)
    return {
        "k": k,
        "overall": group(list(tasks.values())),
        "categories": {name: group(rows) for name, rows in sorted(by_category.items())},
        "tasks": sorted(tasks.values(), key=lambda t: (t["category"], t["task_id"])),
    }


def cost_usd(prompt_tokens: int, completion_tokens: int, price_in: float | None, price_out: float | None) -> float | None:
    """Dollar cost from prices per million tokens; None when no price was given."""
    if price_in is None and price_out is None:
        return None
    return (prompt_tokens * (price_in or 0.0) + completion_tokens * (price_out or 0.0)) / 1_000_000


def bootstrap_ci(values: list[float], *, rounds: int = 10_000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean (resampling the values with replacement).

    >>> bootstrap_ci([1.0] * 10)
    (1.0, 1.0)
    """
    import random

    if not values:
        raise ValueError("a bootstrap interval needs at least one value")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    tail = (1.0 - level) / 2
    return means[int(tail * rounds)], means[min(rounds - 1, int((1.0 - tail) * rounds))]


def paired_difference(base: Mapping[str, float], other: Mapping[str, float], *, rounds: int = 10_000, seed: int = 0,
                      level: float = 0.95) -> dict[str, Any]:
    """`other - base` over the instances both scored, with a paired bootstrap interval (instances resampled,
    each keeping its own pair), so an instance that is easy for both does not widen the interval.

    >>> d = paired_difference({"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 1.0})
    >>> d["n"], d["delta"], d["ci95"]
    (2, 1.0, [1.0, 1.0])
    """
    ids = sorted(set(base) & set(other))
    if not ids:
        raise ValueError("the two evals share no scored instance")
    diffs = [other[i] - base[i] for i in ids]
    lo, hi = bootstrap_ci(diffs, rounds=rounds, seed=seed, level=level)
    return {"n": len(ids), "delta": sum(diffs) / len(ids), "ci95": [lo, hi],
            "wins": sum(d > 0 for d in diffs), "losses": sum(d < 0 for d in diffs)}
