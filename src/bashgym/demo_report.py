"""The demo's report: Markdown with PNG charts. Every number is read from what the run stored or returned;
every pass@1 comes with its n and 95% bootstrap interval, every comparison with its paired interval."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bashgym.demo import DemoResult

TIER_COLORS = {"gold": "#d4a017", "silver": "#9ea7ad", "bronze": "#b06b2f", "failed": "#c0392b", "unscored": "#777"}
POLICY_LABELS = {"base": "base model", "adapter": "adapter (gold+silver)", "all_sessions": "ablation (all sessions)",
                 "iteration2": "iteration 2"}
POLICY_COLORS = {"base": "#8c8c8c", "adapter": "#2a7ab9", "all_sessions": "#d98c2b", "iteration2": "#3a9e5c"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _tiers_chart(path: Path, sessions: dict[str, int], turns: dict[str, int]) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    keys = list(TIER_COLORS)
    width = 0.38
    for i, (name, values) in enumerate((("sessions", sessions), ("turns", turns))):
        xs = [j + (i - 0.5) * width for j in range(len(keys))]
        bars = ax.bar(xs, [values.get(k, 0) for k in keys], width, label=name,
                      color=[TIER_COLORS[k] for k in keys], alpha=1.0 if i == 0 else 0.55, edgecolor="black",
                      linewidth=0.4)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(range(len(keys)), keys)
    ax.set_ylabel("count")
    ax.set_title("Judge tiers (solid: sessions, light: turns)")
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _dataset_chart(path: Path, steps: list[dict[str, Any]]) -> Path:
    """Pipeline steps in the order they ran, what went in and what was kept (units differ by step: the
    select step counts sessions, the steps after segmenting count examples — the labels say which)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(steps) + 1.2), dpi=110)
    ys = list(range(len(steps)))[::-1]
    labels = [f"{i + 1}. {st['name']} ({_unit(st['name'])})" for i, st in enumerate(steps)]
    ax.barh(ys, [st["total"] for st in steps], color="#d5dde5", height=0.7, label="in")
    bars = ax.barh(ys, [st["kept"] for st in steps], color="#2a7ab9", height=0.45, label="kept")
    ax.bar_label(bars, labels=[f"{st['kept']} of {st['total']}" for st in steps], fontsize=7, padding=2)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlabel("items (sessions before segmenting, examples after)")
    ax.set_title("Dataset pipeline, in order: in vs kept")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _unit(step: str) -> str:
    return "sessions" if step in ("select", "select_sessions", "sessions") else "examples"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ci(ci: list[float | None]) -> str:
    if ci[0] is None or ci[1] is None:
        return "n/a"
    return f"[{ci[0]:.1%}, {ci[1]:.1%}]"


def _diff(d: dict[str, Any]) -> str:
    return (f"{d['delta']:+.1%} (95% CI {d['ci95'][0]:+.1%} to {d['ci95'][1]:+.1%}, n={d['n']} paired instances, "
            f"{d['wins']} better / {d['losses']} worse)")


def verdicts(ev: dict[str, Any]) -> dict[str, str]:
    """Plain sentences for the three claims, from the numbers (never the other way round)."""
    c = ev["comparisons"]
    ab, ja, it = c["adapter_vs_base"], c["judged_vs_all_sessions"], c["iteration2_vs_iteration1"]
    out = {}
    beats = ab["delta"] >= 0.25 and ab["ci95"][0] > 0 and ev["heldout_instances"] >= 40
    out["adapter"] = (("**Yes.** " if beats else "**Not shown.** ")
                      + f"Adapter − base on held-out instances: {_diff(ab)}. Target: ≥ +25 points on ≥ 40 "
                      "instances with an interval above 0.")
    if ja["ci95"][0] > 0:
        out["judging"] = f"**Yes.** Judged − all sessions: {_diff(ja)}."
    elif ja["delta"] > 0:
        out["judging"] = (f"**Not shown.** Judged − all sessions: {_diff(ja)}: the judged run scores higher, but the "
                          "interval includes 0, so this run does not show that judging matters.")
    else:
        out["judging"] = (f"**No.** Judged − all sessions: {_diff(ja)}: in this run the ablation trained on every "
                          "session did not score below the judged run.")
    if it["delta"] >= 0:
        out["iteration2"] = f"**Yes** (≥). Iteration 2 − iteration 1: {_diff(it)}."
    else:
        out["iteration2"] = f"**No.** Iteration 2 − iteration 1: {_diff(it)}: iteration 2 scored lower in this run."
    return out


def write_report(result: DemoResult) -> Path:
    from bashgym.eval.report import family_chart, interval_chart, loss_chart

    s = result.stages
    x = result.experiment
    st = x["stages"]
    ev = x["eval"]
    out = result.report.parent
    total_s = sum(result.seconds.values())
    parts = ["# bashgym demo report", "",
             f"Home: `{result.home}`. Every number below was produced by this run ({total_s:.0f} s in all); "
             "every pass@1 has its n and a 95% bootstrap interval, every difference a paired bootstrap interval.",
             ""]

    v = verdicts(ev)
    parts += ["## Summary", "",
              _table(["claim", "result"], [["1. the adapter beats the base on held-out instances", v["adapter"]],
                                           ["2. judging matters (gold+silver vs all sessions)", v["judging"]],
                                           ["3. the flywheel turns (iteration 2 ≥ iteration 1)", v["iteration2"]]]),
              "", _table(["policy", "pass@1", "95% CI", "n"],
                         [[POLICY_LABELS[k], _pct(ev[k]["pass@1"]), _ci(ev[k]["ci95"]), ev[k]["n"]]
                          for k in POLICY_LABELS]), ""]
    interval_chart([{"label": POLICY_LABELS[k], "value": ev[k]["pass@1"], "ci95": ev[k]["ci95"], "n": ev[k]["n"],
                     "color": POLICY_COLORS[k]} for k in POLICY_LABELS], out / "heldout.png",
                   title=f"pass@1 on {ev['heldout_instances']} held-out task instances (95% CI)")
    comps = ev["comparisons"]
    interval_chart([{"label": label, "value": comps[key]["delta"], "ci95": comps[key]["ci95"], "n": comps[key]["n"],
                     "color": color} for key, label, color in (
                        ("adapter_vs_base", "adapter − base", "#2a7ab9"),
                        ("judged_vs_all_sessions", "judged − all sessions", "#d98c2b"),
                        ("iteration2_vs_iteration1", "iteration 2 − iteration 1", "#3a9e5c"))],
                   out / "differences.png", title="Paired differences in pass@1 (points, 95% CI)",
                   xlabel="difference in pass@1 (points)", zero_line=True)
    parts += ["![held-out pass@1](heldout.png)", "", "![paired differences](differences.png)", ""]

    imported, judged = s["import"], s["judge"]
    parts += ["## 1. Captured sessions and tiers", "",
              f"Imported {imported['files']} transcript files → {imported['sessions']} sessions, {imported['steps']} "
              f"steps ({imported['skipped_lines']} bad lines skipped). The bundled sessions were recorded with the "
              "real Claude Code CLI driven by a scripted model (tests/harness/make_claude_fixtures.py).", "",
              _table(["level", *TIER_COLORS], [
                  ["sessions", *[judged.get("session_tiers", {}).get(t, 0) for t in TIER_COLORS]],
                  ["turns", *[judged.get("turn_tiers", {}).get(t, 0) for t in TIER_COLORS]]]), ""]
    _tiers_chart(out / "tiers.png", judged.get("session_tiers", {}), judged.get("turn_tiers", {}))
    parts += ["![tiers](tiers.png)", ""]

    ds = s["dataset"]
    counts = ds["counts"]
    parts += ["## 2. A redacted dataset from them", "",
              f"`{ds['id']}`: {counts['examples']} examples from {counts['sessions']} sessions, "
              f"redacted: **{'yes' if ds['redacted'] else 'NO'}** ({counts['redaction'].get('total', 0)} values "
              f"removed), content hash `{ds['content_hash'][:16]}`.", "",
              _table(["#", "step", "in", "kept", "dropped (reason: count)"],
                     [[i + 1, st["name"], st["total"], st["kept"],
                       ", ".join(f"{k}: {v}" for k, v in st.get("dropped", {}).items()) or "—"]
                      for i, st in enumerate(counts["steps"])]), ""]
    _dataset_chart(out / "dataset.png", counts["steps"])
    parts += ["![dataset](dataset.png)", ""]

    su, ex, jd = st["suites"], st["expert"], st["judge"]
    cfg = x["config"]
    parts += ["## 3. The experiment: task families, held-out instances, an expert's sessions", "",
              f"{len(su['families'])} task families ({', '.join(su['families'])}); each instance has its own file "
              "names, contents and counts, and its test checks that instance's own answer. Practice suite: "
              f"{su['practice']} instances; held-out suite: {su['heldout']} instances from disjoint seeds "
              f"({su['shared_instance_ids']} ids shared).", "",
              f"A scripted expert (the reference solution; for a stated share of instances a plausible mistake, as a "
              f"hurried agent makes: {', '.join(f'{k} {v:.0%}' for k, v in cfg['expert_mistakes'].items())}, others "
              f"{cfg['expert_mistake_rate']:.0%}) rolled out on the practice suite: {ex['sessions']} sessions "
              f"(source `gym`), {ex['mistakes_scripted']} with the mistake; the gym's tests passed "
              f"{_pct(ex['pass@1'])} of them (n={ex['n']}). Judged: {jd['session_tiers']}.", ""]
    dsj, dsa = st["datasets"]["judged"], st["datasets"]["all"]
    parts += [_table(["dataset", "examples", "from sessions", "dropped by decontamination"],
                     [[f"`{dsj['id']}` (gold+silver)", dsj["examples"], dsj["sessions"], dsj["decontaminate_dropped"]],
                      [f"`{dsa['id']}` (all sessions, ablation)", dsa["examples"], dsa["sessions"],
                       dsa["decontaminate_dropped"]],
                      [f"`{st['dataset2']['id']}` (iteration 2)", st["dataset2"]["examples"],
                       st["dataset2"]["sessions"], st["dataset2"]["decontaminate_dropped"]]]), ""]

    tr = {k: st[k] for k in ("train", "train_all", "train2")}
    model = st["model"]
    parts += ["## 4. Training", "",
              f"Base model `{model['path']}` ({'built locally, no download' if model['built'] else 'given'}). "
              f"Each run: SFT with the same settings ({', '.join(f'{k}={v}' for k, v in cfg['sft'].items())}; "
              f"LoRA {cfg['lora']}), tool protocol `{cfg['tool_mode']}`.", "",
              _table(["run", "dataset examples", "steps", "device", "loss first → last"],
                     [[f"`{t['run_id']}` ({name})", t["examples"], t["steps"], t["device"],
                       f"{_num(t['first_loss'])} → {_num(t['final_loss'])}"]
                      for name, t in (("judged", tr["train"]), ("all sessions", tr["train_all"]),
                                      ("iteration 2", tr["train2"]))]), ""]
    loss_chart({"judged": tr["train"]["loss_history"], "all sessions": tr["train_all"]["loss_history"],
                "iteration 2": tr["train2"]["loss_history"]}, out / "loss.png", title="Training loss by step")
    parts += ["![loss curves](loss.png)", ""]

    parts += ["## 5. Held-out eval: base vs adapter", "", v["adapter"], "",
              "Greedy decoding, one sample per instance (pass@1), at most "
              f"{cfg['max_turns']} model turns of {cfg['max_new_tokens']} tokens; the gym's tests decide.", ""]
    family_chart({POLICY_LABELS[k]: ev["families"][k] for k in POLICY_LABELS}, out / "families.png",
                 title="pass@1 per task family on held-out instances")
    parts += ["![per family](families.png)", "",
              _table(["family", *[POLICY_LABELS[k] for k in POLICY_LABELS]],
                     [[f, *[f"{ev['families'][k].get(f, {}).get('pass@1', 0):.0%} "
                            f"(n={ev['families'][k].get(f, {}).get('n', 0)})" for k in POLICY_LABELS]]
                      for f in sorted(ev["families"]["base"])]), ""]

    parts += ["## 6. Does judging matter? (ablation: every session, same budget)", "", v["judging"], ""]

    r2 = st["rollouts2"]
    parts += ["## 7. The flywheel turns: iteration 2", "",
              f"The adapter rolled out on {r2['rollouts']} practice instances it had never seen (new instances of "
              f"the same families, none of them the expert's or held out; temperature "
              f"{cfg['iteration2_temperature']}); the gym's tests passed {r2['passed']} of them "
              f"({_pct(r2['pass@1'])}, 95% CI {_ci(r2['ci95'])}); judged: {r2['judge']['session_tiers']}. "
              f"{st['dataset2']['added']} examples joined the judged dataset, and a new adapter was trained on it. "
              "(These are practice rollouts; the held-out eval rollouts above are never trained on.)", "",
              v["iteration2"], ""]

    dc = st["decontamination"]
    parts += ["## 8. Decontamination: the held-out instances were never trained on", "",
              f"Every training example of the three datasets ({dc['training_examples']}) against every held-out "
              f"instruction ({dc['heldout']}): the largest share of one instance's {dc['ngram']}-word n-grams found "
              f"in any example is **{dc['max_overlap']:.2f}** (`{dc['max_overlap_instance']}`); the factory drops an "
              f"example at {dc['threshold']}. Held-out instance ids among training rollouts: "
              f"{dc['heldout_ids_in_training']}. The datasets were built with decontamination against the held-out "
              f"suite, which dropped {dc['dropped_by_factory']} examples.", ""]

    parts += ["## Timings", "", _table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in result.seconds.items()]), ""]
    result.report.write_text("\n".join(parts), encoding="utf-8")
    return result.report
