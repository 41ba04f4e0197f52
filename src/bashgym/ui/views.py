"""View models: what each page shows, read from the store and shaped for the templates.

Kept apart from the routes so a page's data can be tested (and reused by a JSON endpoint) without HTTP.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from bashgym.judge.results import explain_rows, why_line
from bashgym.quality import effective_tier, merge_labels, normalize_label
from bashgym.schema import TIERS, Session, Step, Turn, prompt_step, shell_command
from bashgym.sources.codex import output_body as codex_output_body
from bashgym.store import Store
from bashgym.ui import charts
from bashgym.ui.render import code_html, edit_diff, input_text, output_block, short

MAX_SUBAGENT_DEPTH = 3
TIER_ORDER = {t: i for i, t in enumerate((*TIERS, "unscored"))}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EXPLANATION_KEYS = ("explanation", "reason", "reasons", "why", "note", "notes", "summary")


def label_state(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per turn (-1 = session): the merged label, tier and note (`quality.merge_labels`, as the store and the
    factory read them) and the rows that made it."""
    return {idx: {"label": normalize_label(st.label), "tier": st.tier, "note": st.note, "history": st.history}
            for idx, st in merge_labels(rows).items()}


def _duration(start: str | None, end: str | None) -> str | None:
    if not start or not end:
        return None
    try:
        secs = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return None
    return human_seconds(secs)


def human_seconds(secs: float) -> str:
    if secs < 0.001:
        return "<1 ms"  # Codex reports a fast command's wall time as 0.0000 s
    if secs < 1:
        return f"{secs * 1000:.0f} ms"
    if secs < 120:
        return f"{secs:.1f} s"
    if secs < 7200:
        return f"{secs / 60:.1f} min"
    return f"{secs / 3600:.1f} h"


def _score_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored score as the page shows it: the judge's metrics (value, weight, note, evidence citing steps,
    read by `judge.results.explain_rows` as `judge explain` reads them), caps and flags; another scorer's
    note and flat values."""
    metrics = row.get("metrics") or {}
    explanation = []
    for key in EXPLANATION_KEYS:
        value = metrics.get(key)
        if isinstance(value, list):
            explanation += [str(v) for v in value]
        elif value:
            explanation.append(str(value))
    numbers = {
        k: v for k, v in metrics.items()
        if k not in EXPLANATION_KEYS and isinstance(v, (int, float, bool, str)) and len(str(v)) < 80
    }
    return {"scorer": row["scorer"], "total": row["total"], "tier": row["tier"], "explanation": explanation,
            "metrics": numbers, "turn_idx": row["turn_idx"], "rows": explain_rows(metrics, row["turn_idx"]),
            "caps": [str(c) for c in metrics.get("caps") or []], "flags": [str(f) for f in metrics.get("flags") or []],
            "drivers": [str(d) for d in metrics.get("drivers") or []]}


def step_anchor(turn_idx: int, step_idx: int | None) -> str:
    """The id of a step on the session page (evidence and search results link to it)."""
    return f"step-{turn_idx}-{step_idx}"


def _subagent_id(step: Step, children: set[str]) -> str | None:
    for value in list(step.meta.values()) + ([step.output] if step.output and len(step.output) < 200 else []):
        if isinstance(value, str) and value in children:
            return value
    return None


def _step_view(store: Store, session: Session, turn: Turn, idx: int, step: Step, children: set[str],
               depth: int) -> dict[str, Any]:
    view: dict[str, Any] = {"idx": idx, "kind": step.kind, "role": step.role, "text": step.text,
                            "thinking": step.thinking, "model": step.model, "timestamp": step.timestamp,
                            "anchor": step_anchor(turn.index, idx) if depth == 0 else None}
    if step.kind != "tool_call":
        return view
    raw_url = f"/sessions/{session.id}/turns/{turn.index}/steps/{idx}/output"
    view.update(
        tool_name=step.tool_name or "tool",
        input=input_text(step.input),
        input_html=code_html(shell_command(step) or "", language="bash") if shell_command(step) == input_text(step.input)
        else None,
        diff=edit_diff(step.tool_name, step.input) or edit_diff(step.tool_name, step.meta),
        # Codex prefixes a shell output with its own header (chunk id, wall time...): shown without it; the
        # raw link keeps it, and the exit code and duration it carried are shown from the step.
        output=output_block(codex_output_body(step.output) if session.source == "codex" and step.output
                            else step.output, raw_url=raw_url),
        is_error=step.is_error,
        exit_code=step.exit_code,
        interrupted=step.interrupted,
        duration=human_seconds(step.duration_ms / 1000) if step.duration_ms is not None else None,
        subagent=None,
    )
    child = _subagent_id(step, children)
    if child:
        children.discard(child)
        view["subagent"] = session_view(store, child, depth + 1) if depth < MAX_SUBAGENT_DEPTH else {"id": child}
    return view


def query_terms(query: str | None) -> list[str]:
    """The words (and "quoted phrases") of a search, lower-cased, as the full-text search reads them.

    >>> query_terms('Flaky "rebase -i" conf*')
    ['flaky', 'rebase -i', 'conf']
    """
    terms = []
    for raw in re.findall(r'"[^"]*"|\S+', query or ""):
        word = raw.strip('"').rstrip("*").strip().lower()
        if word and not _CONTROL.search(word):
            terms.append(word)
    return terms


def _step_matches(step: Step, terms: list[str]) -> bool:
    if not terms:
        return False
    parts = [step.text, step.thinking, step.output or ""]
    if step.input is not None:
        parts.append(step.input if isinstance(step.input, str) else json.dumps(step.input, ensure_ascii=False))
    body = " ".join(p for p in parts if p).lower()
    return any(t in body for t in terms)


def _link_evidence(turns: list[dict[str, Any]], session_scores: list[dict[str, Any]]) -> None:
    """Point each evidence item at the step it cites (or its turn, when that step is the prompt)."""
    shown = {(t["index"], st["idx"]) for t in turns for st in t["steps"]}
    for sc in session_scores + [sc for t in turns for sc in t["scores"]]:
        for row in sc["rows"]:
            for e in row["evidence"]:
                turn, step = e["turn"], e["step"]
                if turn is None or turn < 0:
                    e["href"] = None
                elif (turn, step) in shown:
                    e["href"] = "#" + step_anchor(turn, step)
                else:
                    e["href"] = f"#turn-{turn}"


def session_view(store: Store, session_id: str, depth: int = 0, query: str | None = None) -> dict[str, Any]:
    """A session as a timeline: turns with their steps, scores, labels; subagent sessions nested. With a
    search `query`, the steps that match are marked and the first one carries the `hit` anchor."""
    session = store.get_session(session_id)
    terms = query_terms(query) if depth == 0 else []
    scores: dict[int, list[dict[str, Any]]] = {}
    for row in store.scores(session_id):
        scores.setdefault(row["turn_idx"], []).append(_score_view(row))
    merged = merge_labels(store.labels(session_id))
    labels = label_state(store.labels(session_id))
    judged = {r["turn_idx"]: r["tier"] for r in store.scores(session_id, "heuristic")}
    children = set(store.child_session_ids(session_id))
    turns = []
    for turn in session.turns:
        u = turn.usage
        prompt = prompt_step(turn)  # shown once, as the turn's prompt block; step indexes stay the turn's
        turns.append({
            "index": turn.index,
            "prompt": turn.prompt,
            "started_at": turn.started_at,
            "duration": _duration(turn.started_at, turn.ended_at),
            "tokens": {"in": u.input_tokens, "out": u.output_tokens, "cache": u.cache_read_tokens + u.cache_creation_tokens},
            "steps": [_step_view(store, session, turn, i, s, children, depth) for i, s in enumerate(turn.steps)
                      if s is not prompt],
            "scores": scores.get(turn.index, []),
            "label": labels.get(turn.index, {}),
            "effective_tier": effective_tier(judged.get(turn.index), merged.get(turn.index)),
            "prompt_match": bool(terms) and any(t in (turn.prompt or "").lower() for t in terms),
        })
        for st, step in zip(turns[-1]["steps"], [s for s in turn.steps if s is not prompt], strict=True):
            st["match"] = _step_matches(step, terms)
    hit = None
    for t in turns:
        if t["prompt_match"]:
            hit = hit or ("prompt", t["index"])
        for st in t["steps"]:
            if st["match"] and hit is None:
                hit = ("step", t["index"], st["idx"])
    if depth == 0:
        _link_evidence(turns, scores.get(-1, []))
    rest = [
        session_view(store, c, depth + 1) if depth < MAX_SUBAGENT_DEPTH else {"id": c}
        for c in sorted(children)
    ]
    return {
        "session": session,
        "depth": depth,
        "turns": turns,
        "scores": scores.get(-1, []),
        "label": labels.get(-1, {}),
        "effective_tier": effective_tier(judged.get(-1), merged.get(-1)),
        "duration": _duration(session.started_at, session.ended_at),
        "subagents": rest,
        "tiers": TIERS,
        "terms": terms,
        "hit": hit,
        "rollouts": store.session_rollouts(session_id) if depth == 0 else [],
        "outline": [{"index": t["index"], "prompt": short(t["prompt"], 90), "tier": t["effective_tier"],
                     "tools": sum(1 for st in t["steps"] if st["kind"] == "tool_call"),
                     "errors": sum(1 for st in t["steps"] if st.get("is_error") or st.get("exit_code") not in (None, 0))}
                    for t in turns] if depth == 0 else [],
    }


def list_rows(store: Store, rows: list[dict[str, Any]], query: str | None) -> list[dict[str, Any]]:
    """Decorate a page of session summaries with their labels, search snippets and the judge's one-line why."""
    ids = [r["id"] for r in rows]
    labels = store.labels_for_sessions(ids)
    snippets = store.search_snippets(query, ids) if query else {}
    judged = store.session_scores(ids)
    for r in rows:
        r["why"] = why_line(judged[r["id"]]["metrics"]) if r["id"] in judged else ""
        state = label_state(labels.get(r["id"], []))
        r["session_label"] = state.get(-1, {}).get("label")
        r["good"] = sum(1 for k, v in state.items() if k >= 0 and v["label"] == "good")
        r["bad"] = sum(1 for k, v in state.items() if k >= 0 and v["label"] == "bad")
        r["snippet"] = snippets.get(r["id"])
        r["summary"] = short(r.get("title") or r.get("first_prompt") or "", 160)
    return rows


# ------------------------------------------------------------------------------------------ datasets


def _read_rows(path: Path, limit: int = 20_000) -> list[dict[str, Any]]:
    rows = []
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if len(rows) >= limit:
                    break
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        return []
    return rows


def _first_dict(data: dict[str, Any], *keys: str) -> dict[str, Any] | None:
    for key in keys:
        if isinstance(data.get(key), dict) and data[key]:
            return data[key]
    return None


def approx_tokens(row: dict[str, Any]) -> int:
    """About 4 characters a token: good enough for a length histogram without loading a tokenizer."""
    return max(1, len(json.dumps(row, ensure_ascii=False)) // 4)


def _redaction_report(ds: dict[str, Any], folder: Path) -> dict[str, Any] | None:
    for source in (ds.get("counts") or {}, ds.get("config") or {}):
        for key in ("redaction", "redaction_report", "redacted"):
            if isinstance(source.get(key), dict):
                return source[key]
    for name in ("redaction_report.json", "redaction.json"):
        p = folder / name
        if p.is_file():
            try:
                return json.loads(p.read_text(encoding="utf-8"))
            except ValueError:
                return None
    return None


def dataset_view(store: Store, dataset_id: str) -> dict[str, Any]:
    ds = store.get_dataset(dataset_id)
    dataset_id = ds["id"]
    folder = Path(ds["path"])
    breakdown = store.ui_dataset_breakdown(dataset_id)
    counts = ds.get("counts") or {}
    by_tier = _first_dict(counts, "tiers", "by_tier") or breakdown["by_tier"]
    by_tier = {t: by_tier[t] for t in sorted(by_tier, key=lambda t: (TIER_ORDER.get(t, len(TIER_ORDER)), str(t)))}
    by_source = _first_dict(counts, "sources", "by_source") or breakdown["by_source"]
    splits = {}
    lengths: list[float] = []
    for split in ("train", "validation", "test"):
        rows = _read_rows(folder / f"{split}.jsonl")
        if rows:
            splits[split] = len(rows)
            lengths += [approx_tokens(r) for r in rows]
    report = _redaction_report(ds, folder)
    kinds = _first_dict(report, "counts", "by_kind") if isinstance(report, dict) else None
    if kinds is None and isinstance(report, dict):
        kinds = {k: v for k, v in report.items() if isinstance(v, (int, float))}
    return {
        "ds": ds,
        "splits": splits,
        "by_tier": by_tier,
        "by_source": by_source,
        "tier_chart": charts.bar_chart([(str(k), float(v)) for k, v in by_tier.items()], "sessions by tier"),
        "source_chart": charts.bar_chart([(str(k), float(v)) for k, v in by_source.items()], "sessions by source"),
        "length_chart": charts.histogram(lengths, "example length (≈tokens)"),
        "lengths": {"n": len(lengths), "max": max(lengths) if lengths else 0},
        "redaction": report,
        "redaction_kinds": kinds or {},
        "has_card": (folder / "README.md").is_file(),
        "sessions": breakdown["sessions"],
    }


# ------------------------------------------------------------------------------------------ runs


def loss_series(run: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """Training curves from a run's metrics: `loss_history` / `eval_loss_history` / `reward_history`
    ([step, value] pairs, as train records them) or a trainer `log_history` list of dicts."""
    metrics = run.get("metrics") or {}
    series: dict[str, list[tuple[float, float]]] = {}
    for key, name in (("loss_history", "loss"), ("eval_loss_history", "eval_loss"), ("reward_history", "reward")):
        for point in metrics.get(key) or []:
            if isinstance(point, (list, tuple)) and len(point) == 2 and all(isinstance(v, (int, float)) for v in point):
                series.setdefault(name, []).append((float(point[0]), float(point[1])))
    for i, entry in enumerate(metrics.get("log_history") or []):
        if not isinstance(entry, dict):
            continue
        x = entry.get("step", i)
        for key in ("loss", "eval_loss", "reward"):
            value = entry.get(key)
            if isinstance(value, (int, float)) and isinstance(x, (int, float)) and key not in series:
                series.setdefault(f"{key} ", []).append((float(x), float(value)))
    return {k.strip(): v for k, v in series.items()}


def run_view(store: Store, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    series = loss_series(run)
    scalars = {k: v for k, v in (run.get("metrics") or {}).items() if isinstance(v, (int, float, str, bool))}
    evals = [e for e in store.list_evals(limit=1000) if e.get("adapter_run_id") == run["id"]]
    return {"run": run, "chart": charts.line_chart(series, "training curves"), "scalars": scalars,
            "evals": evals, "has_curve": bool(series)}


# ------------------------------------------------------------------------------------------ evals


def pass_rate(metrics: dict[str, Any] | None) -> float | None:
    """The headline pass@1 of an eval's metrics (`overall.pass@1` as eval records it)."""
    metrics = metrics or {}
    for source in (metrics.get("overall") or {}, metrics):
        for key in ("pass@1", "pass_rate", "mean_reward"):
            value = source.get(key) if isinstance(source, dict) else None
            if isinstance(value, (int, float)):
                return float(value)
    return None


def _eval_label(e: dict[str, Any]) -> str:
    return (f"adapter {e['adapter_run_id']}" if e.get("adapter_run_id") else f"base {e['model']}")[:40]


def eval_view(store: Store, eval_id: str) -> dict[str, Any]:
    ev = store.get_eval(eval_id)
    metrics = ev.get("metrics") or {}
    rollouts = store.rollouts(ev["id"])
    tasks: dict[str, list[dict[str, Any]]] = {}
    for r in rollouts:
        tasks.setdefault(r["task_id"], []).append(r)
    per_task = [
        {"task_id": t, "n": len(rs), "passed": sum(1 for r in rs if r["status"] == "passed"),
         "mean_reward": sum((r["reward"] or 0.0) for r in rs) / len(rs),
         "session_ids": [r["session_id"] for r in rs if r["session_id"]],
         "statuses": sorted({r["status"] for r in rs})}
        for t, rs in sorted(tasks.items())
    ]
    overall = metrics.get("overall") if isinstance(metrics.get("overall"), dict) else {}
    categories = metrics.get("categories") if isinstance(metrics.get("categories"), dict) else {}
    # Base vs adapter: every eval of the same suite, headline pass@1 and pass@1 per task category.
    same_suite = [e for e in store.list_evals(limit=1000) if e.get("suite") == ev.get("suite")]
    same_suite.sort(key=lambda e: (e.get("adapter_run_id") is not None, e["created_at"]))
    compare = [(_eval_label(e), pass_rate(e.get("metrics")) or 0.0, e["id"]) for e in same_suite]
    cat_names = sorted({c for e in same_suite for c in ((e.get("metrics") or {}).get("categories") or {})})[:12]
    series: dict[str, list[float]] = {}
    for e in same_suite[:5]:
        cats = (e.get("metrics") or {}).get("categories") or {}
        series[f"{_eval_label(e)} ({e['id'][-6:]})"] = [
            float((cats.get(c) or {}).get("pass@1") or 0.0) for c in cat_names
        ]
    return {
        "ev": ev,
        "per_task": per_task,
        "overall": {k: v for k, v in overall.items() if isinstance(v, (int, float, str, bool))},
        "categories": categories,
        "scalars": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))},
        "compare": compare,
        "compare_chart": charts.bar_chart([(c[0], c[1]) for c in compare], "pass@1 by model", percent=True),
        "category_chart": charts.grouped_bars(cat_names, series, "pass@1 per category", percent=True),
    }


# ------------------------------------------------------------------------------------------ dataset rows

EXAMPLES_PER_PAGE = 20


def _example_turns(row: dict[str, Any]) -> list[dict[str, str]]:
    """A row of any format as (who, text) lines to preview: messages, ShareGPT conversations, prompt/
    completion or chosen/rejected pairs; other keys are left to the row's JSON."""
    def content(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, list):  # content parts
            return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in value)
        return json.dumps(value, ensure_ascii=False) if value is not None else ""

    out: list[dict[str, str]] = []
    for key in ("messages", "conversations", "prompt", "completion", "chosen", "rejected"):
        value = row.get(key)
        if isinstance(value, str):
            out.append({"who": key, "text": value})
            continue
        if not isinstance(value, list):
            continue
        for m in value:
            if not isinstance(m, dict):
                continue
            who = str(m.get("role") or m.get("from") or "?")
            text = content(m.get("content", m.get("value")))
            for call in m.get("tool_calls") or []:
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    text += f"\n→ {fn.get('name')}({content(fn.get('arguments'))})"
            out.append({"who": who if key in ("messages", "conversations") else f"{key} · {who}", "text": text})
    return out


def dataset_examples(store: Store, dataset_id: str, query: str | None = None, page: int = 1,
                     split: str | None = None) -> dict[str, Any]:
    """One page of a dataset's rows as written (what a push would upload), optionally only those whose text
    contains `query` (case-insensitive): each with its split, a preview and the session and turn it came from."""
    ds = store.get_dataset(dataset_id)
    folder = Path(ds["path"])
    needle = (query or "").lower()
    matched: list[tuple[str, int, dict[str, Any]]] = []
    for name in (split,) if split else ("train", "validation", "test"):
        for i, row in enumerate(_read_rows(folder / f"{name}.jsonl")):
            if needle and needle not in json.dumps(row, ensure_ascii=False).lower():
                continue
            matched.append((name, i, row))
    pages = max(1, (len(matched) + EXAMPLES_PER_PAGE - 1) // EXAMPLES_PER_PAGE)
    page = min(max(1, page), pages)
    shown = []
    for name, i, row in matched[(page - 1) * EXAMPLES_PER_PAGE: page * EXAMPLES_PER_PAGE]:
        sid = row.get("session_id") if isinstance(row.get("session_id"), str) else None
        turn = row.get("turn_idx") if isinstance(row.get("turn_idx"), int) else None
        shown.append({
            "split": name, "line": i + 1, "id": str(row.get("example_id") or f"{name}:{i + 1}"),
            "session_id": sid, "turn_idx": turn, "tier": row.get("tier"), "source": row.get("source"),
            "href": (f"/sessions/{sid}" + (f"#turn-{turn}" if turn is not None else "")) if sid else None,
            "turns": _example_turns(row), "json": json.dumps(row, ensure_ascii=False, indent=2)[:20_000],
            "tokens": approx_tokens(row),
        })
    return {"id": ds["id"], "query": query or "", "split": split or "", "page": page, "pages": pages,
            "total": len(matched), "examples": shown, "per_page": EXAMPLES_PER_PAGE}


def card_html(store: Store, dataset_id: str) -> tuple[dict[str, Any], Any]:
    """A dataset's card (README.md) rendered as HTML: raw HTML in it is escaped, unsafe links dropped."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    from bashgym.errors import NotFoundError

    ds = store.get_dataset(dataset_id)
    card = Path(ds["path"]) / "README.md"
    if not card.is_file():
        raise NotFoundError(f"dataset {ds['id']!r} has no card at {card}")
    text = card.read_text(encoding="utf-8", errors="replace")
    if text.startswith("---\n") and "\n---\n" in text[4:]:  # YAML front matter (the Hub's metadata): a code block
        end = text.index("\n---\n", 4)
        text = "```yaml\n" + text[4:end] + "\n```\n" + text[end + 5:]
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return ds, Markup(md.render(text))


# ------------------------------------------------------------------------------------------ compare

def _task_rates(store: Store, eval_id: str) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = {}
    for r in store.rollouts(eval_id):
        t = tasks.setdefault(r["task_id"], {"n": 0, "passed": 0, "session_ids": []})
        t["n"] += 1
        t["passed"] += r["status"] == "passed"
        if r["session_id"]:
            t["session_ids"].append(r["session_id"])
    for t in tasks.values():
        t["rate"] = t["passed"] / t["n"]
    return tasks


def flip(a: float | None, b: float | None) -> str:
    """How a task moved from eval A to eval B: fixed (B passes where A never did), broke (the reverse),
    better / worse (the pass rate moved), same, or only in one of them.

    >>> flip(0.0, 1.0), flip(1.0, 0.0), flip(0.5, 1.0), flip(1.0, 1.0), flip(None, 1.0)
    ('fixed', 'broke', 'better', 'same', 'only in B')
    """
    if a is None:
        return "only in B"
    if b is None:
        return "only in A"
    if a == 0 and b > 0:
        return "fixed"
    if a > 0 and b == 0:
        return "broke"
    return "better" if b > a else ("worse" if b < a else "same")


def compare_evals(store: Store, a_id: str, b_id: str) -> dict[str, Any]:
    """Two evals task by task (usually base vs adapter on one suite): each task's pass rate in both and
    whether it flipped; the flips first."""
    a, b = store.get_eval(a_id), store.get_eval(b_id)
    ta, tb = _task_rates(store, a["id"]), _task_rates(store, b["id"])
    order = {"fixed": 0, "broke": 1, "better": 2, "worse": 3, "only in A": 4, "only in B": 5, "same": 6}
    tasks = []
    for task in sorted(set(ta) | set(tb)):
        ra, rb = ta.get(task), tb.get(task)
        tasks.append({"task_id": task, "a": ra, "b": rb,
                      "flip": flip(ra["rate"] if ra else None, rb["rate"] if rb else None)})
    tasks.sort(key=lambda t: (order[t["flip"]], t["task_id"]))
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t["flip"]] = counts.get(t["flip"], 0) + 1
    return {"a": a, "b": b, "a_label": _eval_label(a), "b_label": _eval_label(b), "tasks": tasks, "counts": counts,
            "rates": (pass_rate(a.get("metrics")), pass_rate(b.get("metrics"))),
            "same_suite": a.get("suite") == b.get("suite")}


def compare_runs(store: Store, a_id: str, b_id: str) -> dict[str, Any]:
    """Two training runs: their loss curves on one chart, their final metrics side by side."""
    a, b = store.get_run(a_id), store.get_run(b_id)
    series: dict[str, list[tuple[float, float]]] = {}
    for run in (a, b):
        for name, points in loss_series(run).items():
            series[f"{run['id'][-12:]} {name}"] = points
    scalars = [{k: v for k, v in (r.get("metrics") or {}).items() if isinstance(v, (int, float, str, bool))}
               for r in (a, b)]
    keys = sorted(set(scalars[0]) | set(scalars[1]))
    config_keys = sorted(k for k in set(a.get("config") or {}) | set(b.get("config") or {})
                         if (a.get("config") or {}).get(k) != (b.get("config") or {}).get(k))
    return {"a": a, "b": b, "chart": charts.line_chart(series, "training curves, both runs"), "has_curve": bool(series),
            "metrics": [(k, scalars[0].get(k), scalars[1].get(k)) for k in keys],
            "config_diff": [(k, (a.get("config") or {}).get(k), (b.get("config") or {}).get(k)) for k in config_keys]}


def compare_datasets(store: Store, a_id: str, b_id: str) -> dict[str, Any]:
    """Two datasets: rows per split, sessions (shared and only in one), tiers and sources side by side."""
    views = [dataset_view(store, a_id), dataset_view(store, b_id)]
    ids = [set(store.dataset_session_ids(v["ds"]["id"])) for v in views]

    def side_by_side(key: str) -> list[tuple[str, Any, Any]]:
        names = list(dict.fromkeys([*views[0][key], *views[1][key]]))
        return [(n, views[0][key].get(n, 0), views[1][key].get(n, 0)) for n in names]

    return {"a": views[0], "b": views[1], "splits": side_by_side("splits"), "tiers": side_by_side("by_tier"),
            "sources": side_by_side("by_source"),
            "sessions": {"a": len(ids[0]), "b": len(ids[1]), "shared": len(ids[0] & ids[1]),
                         "only_a": len(ids[0] - ids[1]), "only_b": len(ids[1] - ids[0])}}
