"""The loss curve PNG of a run (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def loss_points(log_history: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for rec in log_history:
        if isinstance(rec.get(key), int | float) and "step" in rec:
            steps.append(int(rec["step"]))
            values.append(float(rec[key]))
    return steps, values


def plot_loss_curve(log_history: list[dict[str, Any]], out: Path, title: str) -> Path | None:
    """Training (and eval) loss by step; None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {k: loss_points(log_history, k) for k in ("loss", "eval_loss")}
    if not any(steps for steps, _ in series.values()):
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for key, (steps, values) in series.items():
        if steps:
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
