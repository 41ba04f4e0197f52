"""`bashgym judge` (score, explain, report, config), `bashgym verify` and `bashgym label`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

import typer

from bashgym.commands.common import (
    ENGINE_OPTION,
    HOME_OPTION,
    JSON_OPTION,
    RAY_ADDRESS_OPTION,
    console,
    engine_line,
    engine_workers,
    open_store,
    parse_target,
    print_json,
    progress,
)
from bashgym.errors import BashgymError, NotFoundError, choice_error

CONFIG_OPTION = typer.Option(
    None, "--config", help="Judge config YAML (default: $BASHGYM_HOME/judge.yaml when it exists).", show_default=False
)

judge_app = typer.Typer(invoke_without_command=True)  # help text: the callback docstring


@judge_app.callback()
def judge(
    ctx: typer.Context,
    rescore: bool = typer.Option(False, "--rescore", help="Score every session again (after a config change)."),
    llm: bool = typer.Option(False, "--llm", help="Also ask the model judge (llm.base_url/model in the config)."),
    session: list[str] = typer.Option(None, "--session", "-s", help="Judge only these sessions (id or prefix)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes that score sessions (one writer), default 1, e.g. 2 on two cores; with --engine ray, Ray tasks at once (default: every CPU of the cluster).", show_default=False),
    engine: str = ENGINE_OPTION,
    ray_address: str | None = RAY_ADDRESS_OPTION,
    config: Path | None = CONFIG_OPTION,
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Score every unscored session and turn (incremental); `--rescore` scores everything again.

    Example:
        bashgym judge
        bashgym judge --rescore --config my-judge.yaml
        bashgym judge --llm -s 3f2a
    """
    if ctx.invoked_subcommand is not None:
        return
    from bashgym.judge.config import load_config
    from bashgym.judge.runner import judge_store, pending_sessions

    workers = engine_workers(engine, ray_address, workers)
    cfg = load_config(config)
    ran: dict[str, Any] = {}
    with open_store(home) as store:
        ids = [store.resolve_session_id(s) for s in session] if session else pending_sessions(store, rescore=rescore)
        with progress(transient=True) as bar:
            task = bar.add_task("judging sessions", total=len(ids))
            summary = judge_store(store, cfg, use_llm=llm, session_ids=ids, workers=workers, engine=engine,
                                  ray_address=ray_address, on_session=lambda _sid: bar.advance(task),
                                  on_engine=ran.update)
    if as_json:
        print_json({**summary.to_dict(), **({"engine": ran} if ran else {})})
        return
    if not summary.sessions:
        console.print("nothing to judge: every session is scored (use --rescore after a config change)")
        return
    if ran:
        console.print(engine_line(ran))
    tiers = ", ".join(f"{t} {summary.session_tiers.get(t, 0)}" for t in ("gold", "silver", "bronze", "failed"))
    turn_tiers = ", ".join(f"{t} {summary.turn_tiers.get(t, 0)}" for t in ("gold", "silver", "bronze", "failed"))
    console.print(f"judged {summary.sessions} session(s), {summary.turns} turn(s)")
    console.print(f"  sessions: {tiers}")
    console.print(f"  turns:    {turn_tiers}")
    if summary.llm_graded:
        console.print(f"  model judge graded {summary.llm_graded} turn(s)")


def _fresh(store: Any, sid: str, cfg: Any) -> None:
    """Score a session now when it has no stored score (explain should not need a separate run)."""
    from bashgym.judge.runner import HEURISTIC, judge_session

    if not store.scores(sid, HEURISTIC):
        judge_session(store, sid, cfg)


@judge_app.command("explain")
def explain(
    target: str = typer.Argument(..., help="SESSION or SESSION:TURN (id or unique prefix)."),
    config: Path | None = CONFIG_OPTION,
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show each metric, its value and weight, and the trace evidence (which step) behind it.

    Example:
        bashgym judge explain 3f2a:2
    """
    from rich.table import Table

    from bashgym.judge.config import load_config
    from bashgym.judge.results import explain_rows
    from bashgym.judge.runner import HEURISTIC
    from bashgym.quality import effective_tier

    prefix, turn = parse_target(target)
    cfg = load_config(config)
    with open_store(home) as store:
        sid = store.resolve_session_id(prefix)
        _fresh(store, sid, cfg)
        rows = {r["turn_idx"]: r for r in store.scores(sid, HEURISTIC)}
        others = [r for r in store.scores(sid) if r["scorer"] != HEURISTIC and r["turn_idx"] == (-1 if turn is None else turn)]
        labels = store.latest_labels(sid)
    key = -1 if turn is None else turn
    if key not in rows:
        raise NotFoundError(f"session {sid} has no turn {turn} (turns: {', '.join(str(i) for i in rows if i >= 0)})")
    row = rows[key]
    if as_json:
        print_json({"session_id": sid, "turn": turn, "score": row["total"], "tier": row["tier"], **row["metrics"],
                    "other_scorers": others, "label": labels[key].to_dict() if key in labels else None,
                    "effective_tier": effective_tier(row["tier"], labels.get(key))})
        return
    where = f"session {sid}" + (f" turn {turn}" if turn is not None else "")
    console.print(f"[bold]{where}[/bold]: score {row['total']:.3f} → [bold]{row['tier']}[/bold]")
    stored = row["metrics"]
    table = Table(show_lines=False)
    for col in ("metric", "value", "weight", "why", "evidence (step: what)"):
        table.add_column(col, overflow="fold")
    for m in explain_rows(stored, key):
        evidence = "\n".join(f"{e['step']}: " + (f"turn {e['turn']}: " if key == -1 and e["turn"] >= 0 else "") + e["text"]
                              for e in m["evidence"][:4]) or "-"
        if len(m["evidence"]) > 4:
            evidence += f"\n… {len(m['evidence']) - 4} more"
        table.add_row(m["name"], f"{m['value']:.2f}", f"{m['weight']:g}", m["note"], evidence)
    console.print(table)
    if stored.get("flags"):
        console.print("[bold red]flags:[/] " + ", ".join(stored["flags"]) + " (see the metrics' evidence above)")
    for cap in stored.get("caps", []):
        console.print(f"cap: {cap}")
    if stored.get("drivers"):
        console.print("cost the most: " + ", ".join(stored["drivers"]))
    for r in others:
        console.print(f"{r['scorer']}: {r['total']:.2f} — {r['metrics'].get('note', '')}")
    if key == -1:
        console.print("turns: " + ", ".join(f"{i}={r['tier']}({r['total']:.2f})" for i, r in rows.items() if i >= 0))
    lab = labels.get(key)
    if lab is not None and (lab.label or lab.tier or lab.note):
        console.print(f"human label: {lab.label or ''} {('tier=' + lab.tier) if lab.tier else ''} "
                      f"{lab.note or ''} → effective tier {effective_tier(row['tier'], lab)}")


@judge_app.command("report")
def report(
    out: Path | None = typer.Option(None, "--out", "-o", help="Histogram PNG path (default $BASHGYM_HOME/reports/judge-scores.png)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Tier counts, a score histogram (PNG) and the metrics that drove each tier.

    Example:
        bashgym judge report --out scores.png
    """
    from bashgym.judge.report import build_report, write_histogram
    from bashgym.paths import home_dir

    with open_store(home) as store:
        data = build_report(store)
    out = out or home_dir() / "reports" / "judge-scores.png"
    data["histogram"] = str(write_histogram(data, out)) if data["sessions"]["count"] else None
    if as_json:
        print_json(data)
        return
    for level in ("sessions", "turns"):
        d = data[level]
        counts = ", ".join(f"{t} {d['tiers'].get(t, 0)}" for t in ("gold", "silver", "bronze", "failed"))
        console.print(f"{level}: {d['count']} scored — {counts}" + (f", mean {d['mean']:.3f}" if d["count"] else ""))
    if data["sessions"]["unscored"]:
        console.print(f"unscored sessions: {data['sessions']['unscored']} (run `bashgym judge`)")
    console.print("what drove the turn tiers (metrics that cost the most, by tier):")
    for tier, drivers in data["drivers"].items():
        console.print(f"  {tier}: " + (", ".join(f"{k} ×{v}" for k, v in drivers.items()) or "-"))
    console.print("mean metric value by tier:")
    for tier, means in data["metric_means"].items():
        console.print(f"  {tier}: " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()))
    if data["histogram"]:
        console.print(f"histogram: {data['histogram']}")


@judge_app.command("calibrate")
def calibrate_cmd(
    directory: Path | None = typer.Argument(None, help="Calibration dir: projects/ (Claude Code transcripts) and "
                                            "labels.json. Default: the set shipped in tests/fixtures/judge_calibration."),
    llm: bool = typer.Option(False, "--llm", help="Also measure the model judge (llm.base_url/model in the config)."),
    config: Path | None = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Measure the judge against labelled sessions: agreement per pattern, a confusion table, cheats let through.

    The sessions are judged in a temporary store; yours is not touched.

    Example:
        bashgym judge calibrate
        bashgym judge calibrate tests/fixtures/judge_calibration --llm --json
    """
    from bashgym.judge.calibrate import calibrate, default_dir
    from bashgym.judge.config import load_config

    directory = directory or default_dir()
    if not directory.is_dir():
        raise NotFoundError(f"no calibration dir {directory} (give one holding projects/ and labels.json)")
    data = calibrate(directory, load_config(config), llm=llm)
    if as_json:
        print_json(data)
        return
    for name in ("heuristic", "llm"):
        if name in data:
            _print_calibration(name, data[name])


def _print_calibration(name: str, r: dict[str, Any]) -> None:
    from rich.table import Table

    from bashgym.schema import TIERS

    title = "heuristic judge" if name == "heuristic" else f"model judge {r.get('model', '')}"
    console.print(f"[bold]{title}[/bold]: {r['agree']}/{r['sessions']} sessions agree ({r['agreement']:.1%}); "
                  f"clear cases {r['clear']['agree']}/{r['clear']['sessions']} ({r['clear']['agreement']:.1%}); "
                  f"{r['seconds']:.2f} s" + (f", {r['calls']} calls, tokens {r['tokens']}" if name == "llm" else ""))
    table = Table("pattern", "sessions", "agree", "agreement", box=None)
    for pattern, p in r["patterns"].items():
        table.add_row(pattern, str(p["sessions"]), str(p["agree"]), f"{p['agreement']:.0%}")
    console.print(table)
    confusion = Table("labelled \\ judged", *TIERS, "unscored", box=None, title="confusion (sessions)")
    for tier, row in r["confusion"].items():
        confusion.add_row(tier, *[str(row.get(t, 0)) for t in (*TIERS, "unscored")])
    console.print(confusion)
    cheats = r["cheating_gold_or_silver"]
    console.print(f"cheating sessions judged gold or silver: {len(cheats)}"
                  + ("".join(f"\n  {c['case']} ({c['session_id'][:8]}): {c['tier']}" for c in cheats)))
    for miss in r["disagreements"]:
        console.print(f"  disagrees: {miss['case']} ({miss['pattern']}): judged {miss['got']}, labelled "
                      f"{miss['expected']} — {miss['reason']}")


@judge_app.command("config")
def config_cmd(
    init: bool = typer.Option(False, "--init", help="Write the default config to $BASHGYM_HOME/judge.yaml."),
    config: Path | None = CONFIG_OPTION,
    home: Path | None = HOME_OPTION,
) -> None:
    """Print the effective judge config (weights, caps, tier thresholds, model judge), or write the defaults.

    Example:
        bashgym judge config --init   # then edit ~/.bashgym/judge.yaml
    """
    import yaml

    from bashgym.commands.common import use_home
    from bashgym.judge.config import default_config_path, load_config, write_default_config

    use_home(home)
    if init:
        path = config or default_config_path()
        if path.exists():
            raise BashgymError(f"{path} exists already; edit it, or delete it to start from the defaults")
        console.print(f"wrote {write_default_config(path)}")
        return
    cfg = load_config(config)
    typer.echo(yaml.safe_dump(cfg.to_dict(), sort_keys=False).rstrip())


def verify(
    target: str = typer.Argument(..., help="SESSION or SESSION:TURN; without a turn, the last turn that ran tests."),
    commit: str | None = typer.Option(None, "--commit", help="Check out this commit instead of the recorded one."),
    no_replay: bool = typer.Option(False, "--no-replay", help="Do not replay the agent's recorded file edits."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds the test command may run."),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Run as a plain subprocess, not in the gym sandbox."),
    config: Path | None = CONFIG_OPTION,
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-run a turn's final test command in a fresh copy of the repo at the recorded commit; record pass/fail.

    The result is stored (scorer "verify") and the session is re-scored: a failed verify caps the turn below
    bronze, a pass counts more than any other metric.

    Example:
        bashgym verify 3f2a:4
        bashgym verify 3f2a --commit HEAD~1
    """
    from bashgym.judge.config import load_config
    from bashgym.judge.runner import VERIFY, judge_session
    from bashgym.judge.verify import verify_turn

    prefix, turn = parse_target(target)
    cfg = load_config(config)
    with open_store(home) as store:
        sid = store.resolve_session_id(prefix)
        session = store.get_session(sid)
        with console.status(f"re-running the final test command of {sid}" + (f":{turn}" if turn is not None else "")):
            result = verify_turn(session, turn, commit=commit, replay=not no_replay, timeout_s=timeout,
                                 sandbox=not no_sandbox)
        store.put_score(sid, result.turn_idx, VERIFY, 1.0 if result.passed else 0.0, None, result.to_store())
        session_j, turns = judge_session(store, sid, cfg)
    turn_j = next((j for j in turns if j.turn_idx == result.turn_idx), None)
    if as_json:
        print_json({**result.to_dict(), "turn_tier": turn_j.tier if turn_j else None, "session_tier": session_j.tier})
        return
    verdict = "[green]PASSED[/green]" if result.passed else "[red]FAILED[/red]"
    console.print(f"{verdict} `{result.command}` at {result.commit[:12]} (turn {result.turn_idx}, step {result.step_idx})")
    console.print(f"  exit {result.exit_code}, {result.summary or 'no runner summary'}, {result.duration_s:.1f}s via {result.runner}")
    console.print(f"  replayed {result.replayed_edits} recorded edit(s), skipped {result.skipped_edits}")
    if turn_j:
        console.print(f"  turn {turn_j.turn_idx} now {turn_j.tier} ({turn_j.total:.3f}); session {session_j.tier} ({session_j.total:.3f})")
    if not result.passed:
        tail = "\n".join(result.output_tail.splitlines()[-15:])
        console.print(tail, markup=False)


LABEL_VALUES = ("good", "bad", "tier=gold", "tier=silver", "tier=bronze", "tier=failed")


def label(
    target: str = typer.Argument(..., help="SESSION or SESSION:TURN (id or unique prefix)."),
    value: str = typer.Argument(..., help="good | bad | tier=gold|silver|bronze|failed"),
    note: str | None = typer.Option(None, "--note", "-n", help="Why: kept beside the label."),
    author: str | None = typer.Option(None, "--author", help="Who labelled (default: your user name)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Label a session or turn by hand; labels are kept apart from scores and win over them in the factory.

    Example:
        bashgym label 3f2a:2 bad --note "deleted the failing test instead of fixing it"
        bashgym label 3f2a tier=gold
    """
    from bashgym.errors import did_you_mean
    from bashgym.schema import TIERS

    value = value.strip().lower()
    tier = None
    if value.startswith("tier="):
        tier = value.split("=", 1)[1]
        if tier not in TIERS:
            raise choice_error("tier", tier, TIERS)
        text = None
    elif value in ("good", "bad"):
        text = value
    else:
        raise BashgymError(f"unknown label {value!r}{did_you_mean(value, LABEL_VALUES)}; use good, bad or tier=TIER")
    prefix, turn = parse_target(target)
    with open_store(home) as store:
        sid = store.resolve_session_id(prefix)
        if turn is not None:
            n = len(store.get_session(sid).turns)
            if not 0 <= turn < n:
                raise NotFoundError(f"session {sid} has no turn {turn} (turns 0..{n - 1})")
        who = author or os.environ.get("USER") or getpass.getuser()
        label_id = store.add_label(sid, -1 if turn is None else turn, label=text, tier=tier, note=note, author=who)
    out = {"id": label_id, "session_id": sid, "turn": turn, "label": text, "tier": tier, "note": note, "author": who}
    if as_json:
        print_json(out)
        return
    where = sid + (f":{turn}" if turn is not None else "")
    console.print(f"labelled {where} {value}" + (f" ({note})" if note else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(judge_app, name="judge")
    app.command("verify")(verify)
    app.command("label")(label)

