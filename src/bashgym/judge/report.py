"""`bashgym judge report`: tier counts, a score histogram and the metrics that drove each tier."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bashgym.judge.runner import HEURISTIC
from bashgym.schema import TIERS
from bashgym.store import Store


def _level(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals = [r["total"] for r in rows if r["total"] is not None]
    return {
        "count": len(rows),
        "tiers": dict(Counter(r["tier"] for r in rows)),
        "mean": round(sum(totals) / len(totals), 4) if totals else None,
        "scores": totals,
    }


def build_report(store: Store) -> dict[str, Any]:
    """Counts and score lists for sessions and turns; per tier, how often each metric was a top cost
    (`drivers`) and each metric's mean value."""
    sessions = store.scores_by_scorer(HEURISTIC)
    turns = store.scores_by_scorer(HEURISTIC, turns=True)
    drivers: dict[str, Counter[str]] = defaultdict(Counter)
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in turns:
        drivers[r["tier"]].update(r["metrics"].get("drivers", [])[:2])
        for name, m in (r["metrics"].get("metrics") or {}).items():
            sums[r["tier"]][name].append(m["value"])
    order = [t for t in TIERS if t in sums or t in drivers]
    data = {
        "sessions": {**_level(sessions), "unscored": len(store.unscored_session_ids(HEURISTIC))},
        "turns": _level(turns),
        "drivers": {t: dict(drivers[t].most_common(5)) for t in order},
        "metric_means": {
            t: {k: round(sum(v) / len(v), 3) for k, v in sorted(sums[t].items())} for t in order
        },
    }
    return data


def write_histogram(data: dict[str, Any], out: Path) -> Path:
    """A PNG with the session and turn score histograms, tier thresholds as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bashgym.judge.config import load_config

    tiers = load_config().tiers
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    bins = [i / 20 for i in range(21)]
    for ax, level in zip(axes, ("sessions", "turns"), strict=True):
        ax.hist(data[level]["scores"], bins=bins, color="#4c72b0", edgecolor="white")
        for name, x in tiers.items():
            ax.axvline(x, color="#c44e52", linestyle="--", linewidth=1)
            ax.text(x, ax.get_ylim()[1] * 0.95, name, rotation=90, va="top", ha="right", fontsize=8)
        ax.set_title(f"{level} ({data[level]['count']})")
        ax.set_xlabel("score")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("count")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
