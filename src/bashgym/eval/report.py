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


def compare_chart(
    base: dict[str, Any], other: dict[str, Any], out: Path, *, base_name: str = "base",
    other_name: str = "adapter",
) -> Path:
    """Grouped bars: pass@1 and pass@k per category (and overall), base next to adapter. Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = base["k"]
    rows = compare_rows(base, other)
    labels = [r["category"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.2 * len(labels) * 2), 4.5), sharey=True)
    width = 0.38
    for ax, metric in zip(axes, ("pass@1", f"pass@{k}"), strict=True):
        xs = range(len(labels))
        b = [(r[f"base_{metric}"] or 0.0) * 100 for r in rows]
        o = [(r[f"adapter_{metric}"] or 0.0) * 100 for r in rows]
        ax.bar([x - width / 2 for x in xs], b, width, label=base_name, color="#8c8c8c")
        ax.bar([x + width / 2 for x in xs], o, width, label=other_name, color="#2a7ab9")
        ax.set_xticks(list(xs), labels, rotation=30, ha="right")
        ax.set_title(metric)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("% of tasks")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
