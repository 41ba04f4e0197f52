"""The demo's report: Markdown with PNG charts (tiers, dataset, loss curve, eval comparison, flywheel)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bashgym.demo import DemoResult

TIER_COLORS = {"gold": "#d4a017", "silver": "#9ea7ad", "bronze": "#b06b2f", "failed": "#c0392b", "unscored": "#777"}


def _bar(path: Path, title: str, groups: dict[str, dict[str, float]], ylabel: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for g in groups.values() for k in g}, key=lambda k: list(TIER_COLORS).index(k)
                  if k in TIER_COLORS else 99)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    width = 0.8 / max(1, len(groups))
    for i, (name, values) in enumerate(groups.items()):
        xs = [j + i * width for j in range(len(keys))]
        ax.bar(xs, [values.get(k, 0) for k in keys], width=width, label=name,
               color=None if len(groups) > 1 else [TIER_COLORS.get(k, "#4a78b5") for k in keys])
    ax.set_xticks([j + width * (len(groups) - 1) / 2 for j in range(len(keys))], keys)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(groups) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def write_report(result: DemoResult) -> Path:
    s = result.stages
    out = result.report.parent
    parts = ["# bashgym demo report", "",
             f"Home: `{result.home}` — every number below was produced by this run "
             f"({sum(result.seconds.values()):.0f} s in all).", ""]

    imported = s["import"]
    judged = s["judge"]
    parts += ["## 1. Sessions and tiers", "",
              f"Imported {imported['files']} transcript files of the real Claude Code CLI → {imported['sessions']} "
              f"sessions, {imported['steps']} steps ({imported['skipped_lines']} bad lines skipped).", "",
              _table(["level", *TIER_COLORS], [
                  ["sessions", *[judged.get("session_tiers", {}).get(t, 0) for t in TIER_COLORS]],
                  ["turns", *[judged.get("turn_tiers", {}).get(t, 0) for t in TIER_COLORS]]]), ""]
    _bar(out / "tiers.png", "Judge tiers", {"sessions": judged.get("session_tiers", {}),
                                            "turns": judged.get("turn_tiers", {})}, "count")
    parts += ["![tiers](tiers.png)", ""]

    ds = s["dataset"]
    counts = ds["counts"]
    parts += ["## 2. Dataset", "",
              f"`{ds['id']}`: {counts['examples']} examples from {counts['sessions']} sessions, "
              f"redacted: **{'yes' if ds['redacted'] else 'NO'}** "
              f"({counts['redaction'].get('total', 0)} values removed), content hash `{ds['content_hash'][:16]}`.", "",
              _table(["split", "rows"], [[k, v] for k, v in counts["rows"].items()]), "",
              _table(["step", "in", "kept", "dropped (reason: count)"],
                     [[st["name"], st["total"], st["kept"],
                       ", ".join(f"{k}: {v}" for k, v in st.get("dropped", {}).items()) or "—"]
                      for st in counts["steps"]]), ""]
    _bar(out / "dataset.png", "Examples kept per pipeline step",
         {"kept": {st["name"]: st["kept"] for st in counts["steps"]}}, "examples")
    parts += ["![dataset](dataset.png)", ""]

    tr = s["train"]
    m = tr["metrics"]
    loss_png = Path(tr.get("loss_png") or m.get("loss_png") or "")
    if loss_png.exists():
        shutil.copy(loss_png, out / "loss.png")
    parts += ["## 3. Training", "",
              f"Run `{tr['run_id']}`: LoRA SFT on the tiny local model, {m.get('steps')} steps on {m.get('device')}; "
              f"loss {m.get('first_loss', float('nan')):.4f} → {m.get('final_loss', float('nan')):.4f}. "
              f"Adapter: `{tr.get('adapter_dir')}`.", "", "![loss curve](loss.png)", ""]

    evals = s["eval"]["evals"]
    base, adapter = evals[0], evals[1]
    cats = sorted(set(base["categories"]) | set(adapter["categories"]))
    parts += ["## 4. Gym eval: base vs adapter", "",
              "A tiny random model is expected to score about zero: this shows the plumbing "
              "(sandboxed tasks, tests as verifiers, pass@k), not a better model.", "",
              _table(["", "base", "adapter"],
                     [["pass@1 overall", _pct(base["overall"].get("pass@1")), _pct(adapter["overall"].get("pass@1"))],
                      ["samples", base["overall"]["samples"], adapter["overall"]["samples"]],
                      ["completion tokens", base["overall"]["completion_tokens"],
                       adapter["overall"]["completion_tokens"]]]
                     + [[f"pass@1 {c}", _pct(base["categories"].get(c, {}).get("pass@1")),
                         _pct(adapter["categories"].get(c, {}).get("pass@1"))] for c in cats]), ""]
    if (out / "eval-compare.png").exists():
        parts += ["![eval comparison](eval-compare.png)", ""]

    ro = s["rollouts"]
    ds2 = s["dataset2"]
    gym_rows = ds2["counts"].get("sources", {}).get("gym", 0)
    parts += ["## 5. The flywheel closes", "",
              f"{ro['eval']['evals'][0]['ran'] if 'evals' in ro['eval'] else ro['eval'].get('ran')} practice rollouts "
              f"were stored as sessions (source `gym`) and judged: "
              f"{ro['judge'].get('session_tiers', {})}.",
              f"The second dataset `{ds2['id']}` (KTO: desirable and undesirable turns) has "
              f"{ds2['counts']['examples']} examples from sources {ds2['counts'].get('sources', {})} — "
              f"{gym_rows} of its sessions are gym rollouts.", ""]

    parts += ["## Timings", "", _table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in result.seconds.items()]), ""]
    result.report.write_text("\n".join(parts), encoding="utf-8")
    return result.report
