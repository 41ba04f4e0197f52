"""`bashgym sessions list|show|stats`: look at what was captured (tables for people, --json for scripts)."""

from __future__ import annotations

import bisect
import os
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from bashgym.commands.common import HOME_OPTION, JSON_OPTION, console, open_store, print_json
from bashgym.errors import check_date, choice_error
from bashgym.schema import SOURCES, TIERS, Turn, conversation
from bashgym.store import Store
from bashgym.terminal import strip_controls

sessions_app = typer.Typer(help="List, show and count captured sessions.", invoke_without_command=True)

SOURCE_OPTION = typer.Option(None, "--source", help="Only this source (claude_code, codex, gemini, opencode, gym, import).")
PROJECT_OPTION = typer.Option(None, "--project", help="Only sessions whose project/cwd contains this text.")
MODEL_OPTION = typer.Option(None, "--model", help="Only sessions that used a model containing this text.")
SINCE_OPTION = typer.Option(None, "--since", help="Started on or after this date (YYYY-MM-DD or ISO time).")
UNTIL_OPTION = typer.Option(None, "--until", help="Started before this date (YYYY-MM-DD or ISO time).")
TIER_OPTION = typer.Option(None, "--tier", help="Only this tier (gold, silver, bronze, failed): the session's "
                           "label tier when it has one, else the judge's.")
MIN_SCORE_OPTION = typer.Option(None, "--min-score", help="Only sessions the judge scored at least this (0..1).")
MAX_SCORE_OPTION = typer.Option(None, "--max-score", help="Only sessions the judge scored at most this (0..1).")


def _filters(source: str | None, project: str | None, model: str | None, since: str | None, until: str | None,
             tier: str | None, min_score: float | None = None, max_score: float | None = None) -> dict[str, Any]:
    """The store's session filters, after checking the values a typo would silently turn into 'no rows'."""
    check_date("--since", since)
    check_date("--until", until)
    if source is not None and source not in SOURCES:
        raise choice_error("--source", source, SOURCES)
    if tier is not None and tier not in TIERS:
        raise choice_error("--tier", tier, TIERS)
    return {"source": source, "project": project, "model": model, "since": since, "until": until, "tier": tier,
            "min_score": min_score, "max_score": max_score}


@sessions_app.callback()
def _sessions(ctx: typer.Context) -> None:
    """Bare `bashgym sessions` lists the newest sessions."""
    if ctx.invoked_subcommand is None:
        list_sessions(source=None, project=None, model=None, since=None, until=None, tier=None, min_score=None,
                      max_score=None, search=None, sort="started", ascending=False, limit=20, home=None,
                      as_json=False)


@sessions_app.command("list")
def list_sessions(
    source: str | None = SOURCE_OPTION,
    project: str | None = PROJECT_OPTION,
    model: str | None = MODEL_OPTION,
    since: str | None = SINCE_OPTION,
    until: str | None = UNTIL_OPTION,
    tier: str | None = TIER_OPTION,
    min_score: float | None = MIN_SCORE_OPTION,
    max_score: float | None = MAX_SCORE_OPTION,
    search: str | None = typer.Option(None, "--search", help="Only sessions whose prompts, text or tool I/O contain this."),
    sort: str = typer.Option("started", "--sort", help="started | steps | turns | tokens | score | tier"),
    ascending: bool = typer.Option(False, "--asc", help="Sort ascending (default: descending)."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many rows (0 = all)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List sessions, newest first.

    Example: bashgym sessions list --source claude_code --since 2026-11-01 --sort score
             bashgym sessions list --min-score 0.75 --sort tier
    """
    filters = _filters(source, project, model, since, until, tier, min_score, max_score)
    with open_store(home) as store:
        rows = store.list_sessions(limit=limit or None, sort=sort, descending=not ascending, search=search,
                                   **filters)
        total = store.count_sessions(search=search, **filters)
        shown = unique_prefixes([r["id"] for r in rows], store.all_session_ids()) if not as_json else {}
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} of {total} sessions", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
                  collapse_padding=True, show_edge=False)
    # The project, long and variable, comes last: on a narrow terminal it is what gets shortened.
    widths = {"id": max([10, *map(len, shown.values())]), "source": 11, "started": 11, "turns": 5, "steps": 5, "tools": 5, "tokens": 6, "tier": 7,
              "score": 5}
    for col in (*widths, "project"):
        numeric = col in ("turns", "steps", "tools", "tokens", "score")
        if col == "project":
            table.add_column(col, no_wrap=True)
        else:
            table.add_column(col, justify="right" if numeric else "left", no_wrap=True, min_width=widths[col])
    project_width = max(8, console.width - sum(widths.values()) - 2 * len(widths) - 2)
    for r in rows:
        table.add_row(
            shown[r["id"]], r["source"], (r["started_at"] or "")[5:16].replace("T", " "),
            str(r["n_turns"]), str(r["n_steps"]), str(r["n_tool_calls"]), str(r["input_tokens"] + r["output_tokens"]),
            (r["tier"] or "") + ("*" if r["label_tier"] else ""), f"{r['score']:.2f}" if r["score"] is not None else "",
            _short(r["project"], project_width),
        )
    console.print(table)
    if any(r["label_tier"] for r in rows):
        console.print("[dim]* tier set by a label (it wins over the judge's)[/dim]")


def unique_prefixes(ids: list[str], all_ids: list[str], min_len: int = 10) -> dict[str, str]:
    """The shortest prefix of each id (at least `min_len`) that no other id in the store shares, so what
    the table shows is what `sessions show` takes; gym rollouts share long prefixes (`gym-ev-2026...`).

    >>> unique_prefixes(["gym-ev-20261201-a1"], ["gym-ev-20261201-a1", "gym-ev-20261201-b2", "x"])
    {'gym-ev-20261201-a1': 'gym-ev-20261201-a'}
    """
    ordered = sorted(set(all_ids) | set(ids))
    out = {}
    for sid in ids:
        i = bisect.bisect_left(ordered, sid)
        shared = max((_common(sid, ordered[j]) for j in (i - 1, i + 1) if 0 <= j < len(ordered)), default=0)
        out[sid] = sid[:max(min_len, shared + 1)]
    return out


def _common(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def _short(project: str | None, width: int = 28) -> str:
    if not project:
        return ""
    project = strip_controls(project)
    return escape(project if len(project) <= width else "…" + project[-(width - 1):])


def session_document(store: Store, session_id: str, nested: bool = False) -> dict[str, Any]:
    """The canonical JSON form of a session with judge results, labels and linked subagent sessions."""
    session = store.get_session(session_id)
    doc = session.to_dict()
    judgement = _judgement(store, session_id)
    # `tier` is the effective tier (bashgym.quality: a person's label wins), as `sessions list` shows it;
    # `judged_tier` is the judge's own and `label` the merged human label.
    doc["score"] = judgement.get("score")
    doc["tier"], doc["judged_tier"] = judgement.get("effective_tier"), judgement.get("tier")
    doc["label"] = judgement.get("label")
    doc["metrics"] = judgement.get("metrics")
    per_turn = judgement.get("turns") or {}
    for turn in doc["turns"]:
        t = per_turn.get(turn["index"]) or per_turn.get(str(turn["index"])) or {}
        turn["score"], turn["tier"], turn["judged_tier"] = t.get("score"), t.get("effective_tier"), t.get("tier")
        turn["label"], turn["metrics"] = t.get("label"), t.get("metrics")
    doc["labels"] = store.labels(session_id)
    children = store.child_session_ids(session_id)
    doc["subagent_session_ids"] = children
    if nested:
        doc["subagents"] = [session_document(store, c, nested=True) for c in children]
    return doc


def _judgement(store: Store, session_id: str) -> dict[str, Any]:
    try:
        from bashgym.judge.results import session_judgement
    except ImportError:  # the judge stage is part of the package; this guards partial installs
        return {}
    return session_judgement(store, session_id) or {}


@sessions_app.command("show")
def show(
    session_id: str = typer.Argument(..., help="Session id or a unique prefix of it."),
    nested: bool = typer.Option(False, "--nested", help="Include subagent sessions in full (JSON)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one session: turns, steps, every tool call with its input and output.

    Example: bashgym sessions show 3f2a --json
    """
    with open_store(home) as store:
        doc = session_document(store, store.resolve_session_id(session_id), nested=nested)
    if as_json:
        print_json(doc)
        return
    head = f"{doc['source']}  {doc['project'] or ''}  {(doc['started_at'] or '')[:19]}  models: {', '.join(doc['models'])}"
    console.print(f"[bold]{escape(doc['id'])}[/bold]  " + escape(strip_controls(head)))
    if doc["tier"]:
        judged = f"judge: {doc['judged_tier']} ({doc['score']:.2f})" if doc["judged_tier"] else "not judged"
        by_label = " — set by a label" if doc["tier"] != doc["judged_tier"] else ""
        console.print(f"tier: {doc['tier']}{by_label} ({judged})")
    for turn in doc["turns"]:
        console.print(f"\n[bold cyan]turn {turn['index']}[/bold cyan] {turn['tier'] or ''}")
        for step in conversation(Turn.from_dict(turn)):  # the prompt once, whichever source recorded it
            _print_step(step.to_dict())
    if doc["subagent_session_ids"]:
        console.print(f"\nsubagent sessions: {', '.join(doc['subagent_session_ids'])}")


def _print_step(step: dict[str, Any], width: int = 400) -> None:
    def clip(text: str | None) -> str:
        text = strip_controls(text or "")  # a transcript must not drive the reader's terminal
        return text if len(text) <= width else text[:width] + f"… [{len(text) - width} more chars]"

    if step["kind"] == "message":
        if step.get("thinking"):
            console.print(f"  [dim]thinking: {escape(clip(step['thinking']))}[/dim]")
        if step.get("text"):
            console.print(f"  [bold]{step['role']}:[/bold] ", end="")
            console.print(clip(step["text"]), markup=False)
        return
    status = "error" if step["is_error"] else ("interrupted" if step["interrupted"] else "ok")
    code = f" exit={step['exit_code']}" if step["exit_code"] is not None else ""
    console.print(f"  [magenta]{escape(strip_controls(str(step['tool_name'])))}[/magenta] " + escape(f"[{status}{code}] "), end="")
    console.print(clip(str(step["input"])), markup=False)
    if step["output"]:
        console.print("    → " + clip(step["output"]).replace("\n", "\n      "), markup=False)


@sessions_app.command("stats")
def stats(
    source: str | None = SOURCE_OPTION,
    project: str | None = PROJECT_OPTION,
    model: str | None = MODEL_OPTION,
    since: str | None = SINCE_OPTION,
    until: str | None = UNTIL_OPTION,
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Totals: sessions by source and tier, turns, steps, tool calls, tokens, top tools, import problems.

    Example: bashgym sessions stats --json
    """
    with open_store(home) as store:
        data = store.stats(**_filters(source, project, model, since, until, None))
        data["import_errors"] = store.import_errors(limit=20)
        data["store"] = store.describe()
    if as_json:
        print_json(data)
        return
    table = Table(title=f"store {data['store']}", show_header=False)
    for key in ("sessions", "subagent_sessions", "turns", "steps", "tool_calls", "input_tokens", "output_tokens",
                "first_started_at", "last_started_at"):
        table.add_row(key.replace("_", " "), str(data[key]))
    table.add_row("by source", ", ".join(f"{k}: {v}" for k, v in data["by_source"].items()))
    table.add_row("by tier", ", ".join(f"{k}: {v}" for k, v in data["by_tier"].items()))
    table.add_row("top tools", ", ".join(f"{k}: {v}" for k, v in list(data["top_tools"].items())[:8]))
    console.print(table)
    for err in data["import_errors"][:10]:
        console.print(f"[yellow]{err['path']}:{err['line_no']}: {err['error']}[/yellow]", markup=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sessions_app, name="sessions")
