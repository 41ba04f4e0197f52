"""Eval reports: rich tables (overall, per category, per task) and base-vs-adapter comparisons with a
bar chart PNG (matplotlib, imported only when a chart is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt_delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "—"
    return f"{(b - a) * 100:+.1f}"


def summary_tables(summary: dict[str, Any], *, title: str = "") -> list[Table]:
    """Overall + per-category table and a per-task table for one eval summary."""
    k = summary["k"]
    pk = f"pass@{k}"
    cats = Table(title=title or f"eval {summary.get('eval_id', '')}")
    for col in ("category", "tasks", "samples", "passed", "no score", "pass@1", pk, "tokens in", "tokens out"):
        cats.add_column(col, justify="left" if col == "category" else "right")
    rows = list(summary["categories"].items()) + [("all", summary["overall"])]
    for name, g in rows:
        cats.add_row(
            name if name != "all" else "[bold]all[/]", str(g["tasks"]), str(g["samples"]), str(g["passed"]),
            str(g["errors"]), fmt_rate(g["pass@1"]), fmt_rate(g[pk]), f"{g['prompt_tokens']:,}",
            f"{g['completion_tokens']:,}", end_section=name == rows[-2][0] if len(rows) > 1 else False,
        )
    tasks = Table(title="per task")
    for col in ("task", "category", "n", "passed", "no score", "pass@1", pk):
        tasks.add_column(col, justify="left" if col in ("task", "category") else "right")
    for t in summary["tasks"]:
        tasks.add_row(t["task_id"], t["category"], str(t["n"]), str(t["c"]), str(t["errors"]),
                      fmt_rate(t["pass@1"]), fmt_rate(t[pk]))
    return [cats, tasks]


def compare_rows(base: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    """Category rows (then "all") with base and adapter pass@1 / pass@k side by side."""
    k = base["k"]
    pk = f"pass@{k}"
    names = sorted(set(base["categories"]) | set(other["categories"]))
    rows = []
    for name in [*names, "all"]:
        b = base["overall"] if name == "all" else base["categories"].get(name, {})
        o = other["overall"] if name == "all" else other["categories"].get(name, {})
        rows.append({
            "category": name,
            "base_pass@1": b.get("pass@1"), "adapter_pass@1": o.get("pass@1"),
            f"base_{pk}": b.get(pk), f"adapter_{pk}": o.get(pk),
        })
    return rows


def compare_table(base: dict[str, Any], other: dict[str, Any], *, base_name: str, other_name: str) -> Table:
    k = base["k"]
    pk = f"pass@{k}"
    table = Table(title=f"{base_name} vs {other_name}")
    table.add_column("category")
    for col in ("base pass@1", "adapter pass@1", "Δ", f"base {pk}", f"adapter {pk}", "Δ "):
        table.add_column(col, justify="right")
    for r in compare_rows(base, other):
        table.add_row(
            r["category"], fmt_rate(r["base_pass@1"]), fmt_rate(r["adapter_pass@1"]),
            fmt_delta(r["base_pass@1"], r["adapter_pass@1"]), fmt_rate(r[f"base_{pk}"]),
            fmt_rate(r[f"adapter_{pk}"]), fmt_delta(r[f"base_{pk}"], r[f"adapter_{pk}"]),
        )
    return table


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")  # tight: long tick labels are never cut off
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def compare_chart(
    base: dict[str, Any], other: dict[str, Any], out: Path, *, base_name: str = "base",
    other_name: str = "adapter",
) -> Path:
    """Grouped bars per category (and overall), base next to adapter: pass@1, and pass@k beside it when
    k > 1. Every bar is labelled with its value, so a 0% bar still reads as a measured 0. Writes a PNG."""
    plt = _pyplot()
    k = base["k"]
    rows = compare_rows(base, other)
    labels = [r["category"] for r in rows]
    metrics = ["pass@1"] if k == 1 else ["pass@1", f"pass@{k}"]
    width_in = min(11.0, max(5.0, 0.75 * len(labels) + 2))
    fig, axes = plt.subplots(1, len(metrics), figsize=(width_in * len(metrics), 4.2), sharey=True, squeeze=False)
    width = 0.38
    for ax, metric in zip(axes[0], metrics, strict=True):
        xs = list(range(len(labels)))
        for offset, key, name, color in ((-width / 2, "base", base_name, "#8c8c8c"),
                                         (width / 2, "adapter", other_name, "#2a7ab9")):
            values = [(r[f"{key}_{metric}"] or 0.0) * 100 for r in rows]
            bars = ax.bar([x + offset for x in xs], values, width, label=name, color=color)
            ax.bar_label(bars, labels=[f"{v:.0f}" for v in values], fontsize=7, padding=1)
        ax.set_xticks(xs, labels, rotation=30, ha="right")
        ax.set_title(f"{metric} by category (n = {base['overall'].get('tasks', '?')} tasks)")
        ax.set_ylim(0, 105)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("% of tasks passed")
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def interval_chart(rows: list[dict[str, Any]], out: Path, *, title: str, xlabel: str = "pass@1 (%)",
                   zero_line: bool = False) -> Path:
    """One horizontal bar per row (`label`, `value`, `ci95` [lo, hi], `n`) with its 95% interval as an error
    bar and "value [lo, hi] n=…" written beside it: a comparison that reads at a glance."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(rows) + 1.3))
    ys = list(range(len(rows)))[::-1]
    values = [r["value"] * 100 for r in rows]
    lo = [max(0.0, (r["value"] - r["ci95"][0]) * 100) for r in rows]
    hi = [max(0.0, (r["ci95"][1] - r["value"]) * 100) for r in rows]
    colors = [r.get("color", "#2a7ab9") for r in rows]
    ax.barh(ys, values, color=colors, xerr=[lo, hi], capsize=4, height=0.6, error_kw={"elinewidth": 1})
    ax.set_yticks(ys, [r["label"] for r in rows])
    for y, r in zip(ys, rows, strict=True):
        ax.annotate(f"{r['value'] * 100:+.0f}" if zero_line else f"{r['value'] * 100:.0f}",
                    (max(r["ci95"][1] * 100, 0) + 2, y), va="center", fontsize=8,
                    xytext=(0, 0), textcoords="offset points")
        ax.annotate(f"[{r['ci95'][0] * 100:.0f}, {r['ci95'][1] * 100:.0f}]  n={r['n']}", (0, y - 0.42), fontsize=7,
                    color="#555", va="center")
    if zero_line:
        ax.axvline(0, color="black", linewidth=0.8)
        span = max(abs(v) for r in rows for v in r["ci95"]) * 100 + 15
        ax.set_xlim(-span, span)
    else:
        ax.set_xlim(0, 115)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def family_chart(policies: dict[str, dict[str, dict[str, Any]]], out: Path, *, title: str) -> Path:
    """Grouped bars: pass@1 per task family (x) for each policy (colour), n per family under its name."""
    plt = _pyplot()
    families = sorted({f for fams in policies.values() for f in fams})
    fig, ax = plt.subplots(figsize=(max(7.0, 0.9 * len(families) + 2), 4.2))
    width = 0.8 / max(1, len(policies))
    palette = ["#8c8c8c", "#2a7ab9", "#d98c2b", "#3a9e5c", "#9b59b6"]
    for i, (name, fams) in enumerate(policies.items()):
        xs = [j + (i - (len(policies) - 1) / 2) * width for j in range(len(families))]
        ax.bar(xs, [fams.get(f, {}).get("pass@1", 0.0) * 100 for f in families], width, label=name,
               color=palette[i % len(palette)])
    n = {f: next((fams[f]["n"] for fams in policies.values() if f in fams), 0) for f in families}
    ax.set_xticks(range(len(families)), [f"{f}\n(n={n[f]})" for f in families], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(policies))
    fig.tight_layout()
    return _save(fig, out)


def loss_chart(runs: dict[str, list[tuple[int, float]]], out: Path, *, title: str) -> Path:
    """Training loss by step, one line per run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, points in runs.items():
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(runs.values()):
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no loss was logged", transform=ax.transAxes, ha="center")
    fig.tight_layout()
    return _save(fig, out)
