"""`bashgym judge calibrate [DIR]`: how often the judge agrees with labelled sessions.

DIR holds Claude Code transcripts (`projects/...`) and `labels.json` ({session id: {case, pattern, expected,
accept, clear, cheating, reason}}); the default is the set shipped in tests/fixtures/judge_calibration/,
recorded with the real CLI. The sessions are imported into a throw-away store (the user's is never touched)
and judged with the given config; a session agrees when its tier is one the label accepts. With `llm`, the
model judge grades every turn too and its session grade (the mean over turns, weighted as the heuristic
weighs them) is measured the same way, with its time and token counts.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bashgym.errors import ConfigError, NotFoundError
from bashgym.judge.config import JudgeConfig
from bashgym.schema import TIERS

CHEAT_OK = ("bronze", "failed")


def default_dir() -> Path:
    """The calibration set shipped with the source tree (tests/fixtures/judge_calibration)."""
    return Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "judge_calibration"


def load_labels(directory: Path) -> dict[str, dict[str, Any]]:
    path = directory / "labels.json"
    if not path.exists():
        raise NotFoundError(f"no labels.json in {directory}: a calibration dir holds projects/ (Claude Code "
                            "transcripts) and labels.json ({session id: {expected, accept, pattern, reason}})")
    try:
        labels = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    for sid, lab in labels.items():
        missing = [k for k in ("expected", "accept", "pattern") if k not in lab]
        if missing:
            raise ConfigError(f"{path}: session {sid} lacks {', '.join(missing)}")
        bad = [t for t in [lab["expected"], *lab["accept"]] if t not in TIERS]
        if bad:
            raise ConfigError(f"{path}: session {sid} has unknown tier(s) {', '.join(bad)}; use {', '.join(TIERS)}")
    return labels


def _measure(labels: dict[str, dict[str, Any]], tiers: dict[str, str | None]) -> dict[str, Any]:
    """Agreement overall, on clear cases and per pattern; the confusion table (expected × judged); cheats
    the judge let through as gold/silver; every disagreement with its reason."""
    per_pattern: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = {t: Counter() for t in TIERS}
    misses, let_through = [], []
    clear = Counter()
    for sid, lab in labels.items():
        got = tiers.get(sid) or "unscored"
        ok = got in lab["accept"]
        per_pattern[lab["pattern"]]["n"] += 1
        per_pattern[lab["pattern"]]["agree"] += ok
        confusion[lab["expected"]][got] += 1
        if lab.get("clear", True):
            clear["n"] += 1
            clear["agree"] += ok
        if lab.get("cheating") and got not in CHEAT_OK:
            let_through.append({"session_id": sid, "case": lab.get("case"), "tier": got})
        if not ok:
            misses.append({"session_id": sid, "case": lab.get("case"), "pattern": lab["pattern"],
                           "expected": lab["expected"], "accept": lab["accept"], "got": got,
                           "reason": lab.get("reason", "")})
    n = len(labels)
    agree = sum(c["agree"] for c in per_pattern.values())
    return {
        "sessions": n, "agree": agree, "agreement": round(agree / n, 4) if n else None,
        "clear": {"sessions": clear["n"], "agree": clear["agree"],
                  "agreement": round(clear["agree"] / clear["n"], 4) if clear["n"] else None},
        "patterns": {p: {"sessions": c["n"], "agree": c["agree"], "agreement": round(c["agree"] / c["n"], 4)}
                     for p, c in sorted(per_pattern.items())},
        "confusion": {t: {g: confusion[t][g] for g in (*TIERS, "unscored") if confusion[t][g]} for t in TIERS
                      if confusion[t]},
        "cheating_gold_or_silver": let_through,
        "disagreements": misses,
    }


def calibrate(directory: Path, config: JudgeConfig, *, llm: bool = False) -> dict[str, Any]:
    """Import DIR's sessions into a temporary store, judge them, and measure agreement with labels.json."""
    from bashgym.judge.runner import judge_session
    from bashgym.sources.importer import import_paths
    from bashgym.sources.registry import get_source
    from bashgym.store import Store

    labels = load_labels(directory)
    fmt = get_source("claude")
    files = fmt.discover(directory / "projects")
    if not files:
        raise NotFoundError(f"no Claude Code transcripts under {directory / 'projects'}")
    with tempfile.TemporaryDirectory(prefix="bashgym-calibrate-") as tmp, Store.open(Path(tmp)) as store:
        import_paths(store, fmt, files)
        missing = [sid for sid in labels if not store.session_exists(sid)]
        if missing:
            raise NotFoundError(f"labels.json names {len(missing)} session(s) with no transcript in {directory}: "
                                f"{', '.join(missing[:3])}")
        started = time.perf_counter()
        judged = {sid: judge_session(store, sid, config) for sid in labels}
        heuristic_s = time.perf_counter() - started
        report = {"dir": str(directory), "heuristic": {**_measure(labels, {s: j[0].tier for s, j in judged.items()}),
                                                      "seconds": round(heuristic_s, 3)}}
        report["heuristic"]["flags"] = {s: j[0].flags for s, j in judged.items() if j[0].flags}
        if llm:
            report["llm"] = _llm_report(store, labels, config)
    return report


def _llm_report(store: Any, labels: dict[str, dict[str, Any]], config: JudgeConfig) -> dict[str, Any]:
    from bashgym.judge.llm import grade_turn

    tokens: Counter[str] = Counter()
    tiers: dict[str, str | None] = {}
    calls = 0
    started = time.perf_counter()
    for sid in labels:
        session = store.get_session(sid)
        grades = []
        for turn in session.turns:
            grade = grade_turn(turn, config.llm)
            calls += 1
            tokens.update(grade.usage)
            grades.append((1 + len(turn.tool_calls), grade.score))
        total = sum(w * g for w, g in grades) / sum(w for w, _ in grades) if grades else 0.0
        tiers[sid] = config.tier_for(total)
    seconds = time.perf_counter() - started
    return {**_measure(labels, tiers), "model": config.llm.model, "calls": calls, "seconds": round(seconds, 3),
            "tokens": dict(tokens)}
