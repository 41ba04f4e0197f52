"""Signals → metrics in [0,1] → a weighted total in [0,1] → a tier, with the reasons kept.

Each metric is documented in `config.METRICS`. The total is the weighted mean of the metrics present (a
turn with no test run is not punished for it: `tests` is simply left out), then capped when a metric that
no average should hide is at its worst (`config.DEFAULT_CAPS`: a failed last test run or a user correction
cannot be silver); a capped total is scaled by the cap, so capped turns keep their order. Every metric
carries the signal evidence (step indices) it came from, and `drivers` names the metrics that cost the
most, so `judge explain` and `judge report` can say why a tier was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bashgym.judge.config import DETECTOR_METRICS, JudgeConfig
from bashgym.judge.detectors import detector_signals
from bashgym.judge.signals import Evidence, Signal, test_runs, turn_signals
from bashgym.schema import Session, Turn


@dataclass(slots=True)
class Metric:
    name: str
    value: float
    weight: float
    note: str
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"value": round(self.value, 4), "weight": self.weight, "note": self.note,
                "evidence": [e.to_dict() for e in self.evidence]}


@dataclass(slots=True)
class Judgement:
    """The judge's verdict on a turn (turn_idx >= 0) or a whole session (turn_idx = -1)."""

    turn_idx: int
    total: float
    tier: str
    metrics: dict[str, Metric]
    caps: list[str] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def to_store(self, config: JudgeConfig, fingerprint: str | None = None) -> dict[str, Any]:
        """The JSON kept in the scores table's `metrics` column (`fingerprint`: the config's, when known)."""
        return {
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "caps": self.caps,
            "drivers": self.drivers,
            "flags": self.flags,
            "signals": self.signals,
            "config": fingerprint or config.fingerprint(),
        }


def metrics_from_signals(
    signals: dict[str, Signal], config: JudgeConfig, *, verified: Metric | None = None, llm: Metric | None = None,
) -> dict[str, Metric]:
    """Turn the raw signals of one turn into the documented metrics (absent ones left out)."""
    w = config.weights
    out: dict[str, Metric] = {}
    if verified is not None:
        out["verified"] = Metric("verified", verified.value, w["verified"], verified.note, verified.evidence)
    s = signals["last_test_passed"]
    if s.value is not None:
        out["tests"] = Metric("tests", 1.0 if s.value else 0.0, w["tests"], s.detail, s.evidence)
    s = signals["ended_fulfilled"]
    out["completion"] = Metric("completion", float(s.value), w["completion"], s.detail, s.evidence)
    s = signals["corrected"]
    out["not_corrected"] = Metric("not_corrected", 0.0 if s.value else 1.0, w["not_corrected"], s.detail, s.evidence)
    s = signals["user_interrupts"]
    out["no_interrupts"] = Metric("no_interrupts", 0.0 if s.value else 1.0, w["no_interrupts"], s.detail, s.evidence)
    s = signals["tool_error_rate"]
    if s.value is not None:
        out["tool_success"] = Metric("tool_success", 1.0 - s.value, w["tool_success"], s.detail, s.evidence)
    s = signals["compile_lint_errors"]
    value = 0.0 if s.value else (0.75 if s.evidence else 1.0)
    out["build_clean"] = Metric("build_clean", value, w["build_clean"], s.detail, s.evidence)
    r, lp = signals["retries"], signals["loops"]
    out["persistence"] = Metric(
        "persistence", 1.0 / (1.0 + 0.5 * r.value + lp.value), w["persistence"], f"{r.detail}; {lp.detail}",
        r.evidence + lp.evidence,
    )
    s, edits = signals["reverted_edits"], signals["edits"].value
    if edits:
        out["kept_edits"] = Metric("kept_edits", max(0.0, 1.0 - s.value / edits), w["kept_edits"], s.detail, s.evidence)
    s = signals["turn_size"]
    n, limit = s.value, max(1, config.focus_steps)
    focus = 1.0 if n <= limit else max(0.5, 1.0 - 0.5 * (n - limit) / (4 * limit))
    out["focus"] = Metric("focus", focus, w["focus"], s.detail, s.evidence)
    if llm is not None:
        out["llm"] = Metric("llm", llm.value, config.llm.weight or w["llm"], llm.note, llm.evidence)
    for metric, signal_name in DETECTOR_METRICS.items():
        s = signals[signal_name]
        out[metric] = Metric(metric, 0.0 if s.value else 1.0, w[metric], s.detail, s.evidence)
    if out["claim_checked"].value < 1.0 and verified is not None and verified.value >= 0.5:
        # The claim was checked, just not inside the trace: a verifier outside the policy's reach (the gym task's
        # hidden tests, `bashgym verify`) ran on the final workspace and passed it.
        m = out["claim_checked"]
        out["claim_checked"] = Metric(m.name, 1.0, m.weight, f"the claim was checked by the verifier ({verified.note})",
                                      [*m.evidence[:1], *verified.evidence])
    s = signals["verified_after_edit"]
    if s.value is not None and not out["claim_checked"].value < 1.0:
        checked = s.value or (verified is not None and verified.value >= 0.5)
        out["verified_change"] = Metric("verified_change", 1.0 if checked else 0.0, w["verified_change"], s.detail,
                                        s.evidence)
    return out


def flags_of(metrics: dict[str, Metric]) -> list[str]:
    """The detectors that fired (their signal names), for `judge explain` and the dataset build's record."""
    return [DETECTOR_METRICS[m] for m in DETECTOR_METRICS if m in metrics and metrics[m].value < 1.0]


def combine(metrics: dict[str, Metric], config: JudgeConfig, turn_idx: int = 0) -> Judgement:
    """Weighted mean of the metrics, caps applied, tier chosen; drivers = metrics that cost the most."""
    weight_sum = sum(m.weight for m in metrics.values() if m.weight > 0)
    total = sum(m.weight * m.value for m in metrics.values() if m.weight > 0) / weight_sum if weight_sum else 0.0
    caps = []
    limit = 1.0
    for name, cap in config.caps.items():
        m = metrics.get(name)
        if m is not None and m.value < cap["below"] and total > cap["max_total"]:
            limit = min(limit, cap["max_total"])
            caps.append(f"{name}={m.value:.2f} caps the total at {cap['max_total']:.2f}")
    if caps:
        # Scaled rather than clipped, so capped turns keep their order (sorting by score stays useful).
        total = limit * total
    total = round(min(1.0, max(0.0, total)), 4)
    losses = sorted(
        ((m.weight * (1.0 - m.value), name) for name, m in metrics.items() if m.weight > 0 and m.value < 1.0),
        reverse=True,
    )
    drivers = [name for loss, name in losses if loss > 0][:3]
    fired = flags_of(metrics)
    # a detector that fired costs the most whatever its weight: name it first
    drivers = [m for m in DETECTOR_METRICS if m in metrics and metrics[m].value < 1.0] + drivers
    return Judgement(turn_idx, total, config.tier_for(total), metrics, caps, drivers[:3], flags=fired)


def score_turn(
    turn: Turn, next_turn: Turn | None, config: JudgeConfig, *, verified: Metric | None = None,
    llm: Metric | None = None,
) -> Judgement:
    """Judge one turn (pure: no store, no network)."""
    runs = test_runs(turn)
    signals = {**turn_signals(turn, next_turn, runs), **detector_signals(turn, runs)}
    judgement = combine(metrics_from_signals(signals, config, verified=verified, llm=llm), config, turn.index)
    judgement.signals = {k: s.value for k, s in signals.items()}
    return judgement


def score_session(
    session: Session, config: JudgeConfig, *, verified: dict[int, Metric] | None = None,
    llm: dict[int, Metric] | None = None,
) -> tuple[Judgement, list[Judgement]]:
    """Judge every turn, then the session: the mean of turn totals weighted by 1 + tool calls (a long
    working turn counts more than a 'thanks'), each metric averaged over the turns that have it."""
    verified, llm = verified or {}, llm or {}
    turns = session.turns
    judged = [
        score_turn(t, turns[i + 1] if i + 1 < len(turns) else None, config, verified=verified.get(t.index),
                   llm=llm.get(t.index))
        for i, t in enumerate(turns)
    ]
    if not judged:
        empty = Judgement(-1, 0.0, "failed", {}, ["the session has no turns"], [])
        return empty, []
    weights = [1 + len(t.tool_calls) for t in turns]
    total = round(sum(w * j.total for w, j in zip(weights, judged, strict=True)) / sum(weights), 4)
    metrics: dict[str, Metric] = {}
    for name in {n for j in judged for n in j.metrics}:
        have = [(j.turn_idx, j.metrics[name]) for j in judged if name in j.metrics]
        worst_idx, worst = min(have, key=lambda x: x[1].value)
        evidence = [Evidence(e.step, f"turn {worst_idx}: {e.text}") for e in worst.evidence[:3]]
        metrics[name] = Metric(
            name, sum(m.value for _, m in have) / len(have), have[0][1].weight,
            f"mean over {len(have)} turn(s); worst turn {worst_idx} ({worst.value:.2f})", evidence,
        )
    tiers = [j.tier for j in judged]
    # A turn caught cheating caps the whole session as it capped the turn: no average of turns hides it.
    caps, limit = [], 1.0
    for j in judged:
        for flag_metric in (m for m in DETECTOR_METRICS if m in j.metrics and j.metrics[m].value < 1.0):
            cap = config.caps.get(flag_metric)
            if cap and total > cap["max_total"]:
                limit = min(limit, cap["max_total"])
                caps.append(f"turn {j.turn_idx}: {flag_metric}=0 caps the session at {cap['max_total']:.2f}")
    if caps:
        total = round(limit * total, 4)
    session_judgement = Judgement(-1, total, config.tier_for(total), metrics, caps, [],
                                  flags=sorted({f for j in judged for f in j.flags}))
    session_judgement.drivers = combine(metrics, config, -1).drivers
    session_judgement.signals = {"turn_tiers": {t: tiers.count(t) for t in dict.fromkeys(tiers)}}
    return session_judgement, judged
