"""`bashgym gym list|check|doctor`: the task suite and the sandbox that runs it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from bashgym.commands.common import JSON_OPTION, console, print_json, progress
from bashgym.errors import BashgymError

gym_app = typer.Typer(help="Bash gym: list tasks, check them, inspect the sandbox.", invoke_without_command=True)


@gym_app.callback()
def _gym(ctx: typer.Context) -> None:
    """Bare `bashgym gym` lists the builtin tasks."""
    if ctx.invoked_subcommand is None:
        list_tasks(suite="builtin", category=None, as_json=False)


@gym_app.command("list")
def list_tasks(
    suite: str = typer.Argument("builtin", help="'builtin' or a directory of task directories."),
    category: str | None = typer.Option(None, "--category", "-c", help="Only this category."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the tasks of a suite: id, category, format, limits, instruction.

    Example: bashgym gym list --category git
    """
    from bashgym.gym.task import scan_suite

    loaded, bad = scan_suite(suite)
    tasks = [t for t in loaded if category is None or t.category == category]
    if as_json:
        print_json([{"id": t.id, "category": t.category, "format": t.format, "instruction": t.instruction,
                     "path": str(t.path), "timeout_s": t.timeout_s, "max_steps": t.max_steps,
                     "workdir": t.workdir, "needs": t.needs} for t in tasks]
                   + [{"id": p.name, "path": str(p), "error": why} for p, why in bad])
        return
    table = Table(title=f"{len(tasks)} tasks in {suite}")
    for col in ("id", "category", "format", "steps", "instruction"):
        table.add_column(col, overflow="fold")
    for t in tasks:
        first = t.instruction.splitlines()[0] if t.instruction else ""
        note = f"[yellow]{escape(t.needs)}[/] " if t.needs else ""
        table.add_row(t.id, t.category, t.format, str(t.max_steps),
                      note + escape(first[:90] + ("…" if len(first) > 90 else "")))
    console.print(table)
    for _, why in bad:
        console.print(f"[red]skipped[/] {escape(why)}")


@gym_app.command("check")
def check(
    task_dirs: list[Path] = typer.Argument(None, help="Task directories, or directories of tasks (default: the builtin suite)."),
    workers: int = typer.Option(max(2, min(8, os.cpu_count() or 2)), "--workers", "-w", help="Tasks checked at once."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Prove tasks sound in the sandbox: the reference solution must pass and an empty attempt must fail.
    Exits 1 if any task is broken, 3 if none is but the machine was too slow to decide some (their
    processes were starved of CPU even with a larger time budget: rerun on a quieter machine).

    Example: bashgym gym check src/bashgym/gym/tasks/builtin/git-tag-release ./my-tasks
    """
    from bashgym.gym.check import check_tasks, output_tail
    from bashgym.gym.sandbox import detect_layer
    from bashgym.gym.task import scan_suite

    tasks, bad = [], []
    for d in task_dirs or ["builtin"]:
        if isinstance(d, Path) and d.exists() and not d.is_dir():
            continue  # a README.md beside the task directories (`gym check tasks/*`)
        try:
            loaded, invalid = scan_suite(d)
        except BashgymError as exc:
            loaded, invalid = [], [(Path(d), str(exc))]
        tasks += loaded
        bad += invalid
    layer = detect_layer()
    with progress(transient=True) as bar:
        job = bar.add_task(f"checking {len(tasks)} tasks ({layer.name} sandbox)", total=len(tasks))
        results = check_tasks(tasks, workers=workers, on_done=lambda _r: bar.advance(job))
    broken = [r for r in results if not r.ok]
    undecided = [r for r in results if r.ok and r.infra]
    skipped = [r for r in results if r.skipped]
    if as_json:
        print_json({"layer": layer.name, "tasks": len(results), "broken": len(broken) + len(bad),
                    "undecided": len(undecided), "skipped": len(skipped),
                    "results": [{"id": r.task.id, "path": str(r.task.path), "ok": r.ok,
                                 "reference": r.reference.status, "empty": r.empty.status, "problem": r.problem,
                                 "infra": r.infra, "needs": r.skipped,
                                 "reference_output": output_tail(r.reference) if r.reference.status != "pass" else "",
                                 "empty_output": output_tail(r.empty) if r.empty.status != "fail" else "",
                                 "tests": {"reference": r.reference.tests, "empty": r.empty.tests}}
                                for r in results],
                    "invalid": [{"path": str(p), "problem": why} for p, why in bad]})
    else:
        sound = len(results) - len(broken) - len(undecided) - len(skipped)
        table = Table(title=f"gym check: {sound}/{len(results) + len(bad)} sound ({layer.name} sandbox)")
        for col in ("task", "category", "reference", "empty", "time", "problem"):
            table.add_column(col, overflow="fold")
        mark = {"pass": "[green]pass[/]", "fail": "[red]fail[/]", "no_score": "[yellow]no_score[/]"}
        for r in results:
            if r.skipped:
                table.add_row(r.task.id, r.task.category, "-", "-", "-", f"[yellow]skipped[/]: {escape(r.skipped)}")
                continue
            empty = mark[r.empty.status].replace("red", "green") if r.empty.status == "fail" else mark[r.empty.status]
            table.add_row(r.task.id, r.task.category, mark[r.reference.status], empty,
                          f"{r.reference.duration_s + r.empty.duration_s:.1f}s",
                          escape((r.problem or r.infra)[-1000:]))
        for path, why in bad:
            table.add_row(path.name, "-", "-", "-", "-", f"[red]invalid[/]: {escape(why)}")
        console.print(table)
        if broken or bad:
            console.print(f"[red]{len(broken) + len(bad)} broken task(s)[/]: "
                          f"{', '.join([r.task.id for r in broken] + [p.name for p, _ in bad])}")
        if skipped:
            console.print(f"[yellow]{len(skipped)} task(s) skipped[/], they need another image or packages: "
                          f"{', '.join(r.task.id for r in skipped)}")
        if undecided:
            console.print(f"[yellow]{len(undecided)} task(s) undecided, the machine was too slow[/]: "
                          f"{', '.join(r.task.id for r in undecided)} (rerun on a quieter machine)")
    if broken or bad:
        raise typer.Exit(1)
    if undecided:
        raise typer.Exit(3)


@gym_app.command("doctor")
def doctor(as_json: bool = JSON_OPTION) -> None:
    """Say which sandbox layer is active and why, and what each stronger layer lacked.

    Example: bashgym gym doctor
    """
    from bashgym.gym.sandbox import LAYERS, detect_layer, disk_quota_support

    info = detect_layer()
    quota, quota_reason = disk_quota_support()
    tools = {name: shutil.which(name) for name in ("bwrap", "unshare", "setpriv", "git", "jq", "tar", "python3")}
    report = {"layer": info.name, "reason": info.reason, "tried": info.tried, "root": os.geteuid() == 0,
              "disk_quota": quota, "disk_quota_reason": quota_reason, "tools": tools, "docker": _docker_state()}
    if as_json:
        print_json(report)
        return
    color = "green" if info.name == "bubblewrap" else "red"
    console.print(f"sandbox layer: [{color}]{info.name}[/] — {info.reason}")
    for name in LAYERS:
        if name in info.tried:
            console.print(f"  {name}: not used — {escape(info.tried[name])}")
    if info.name != "bubblewrap":
        console.print("[red]WARNING[/]: weak sandbox; install bubblewrap: apt-get install bubblewrap")
    if os.geteuid() == 0:
        console.print("running as root: each sandbox runs as its own throwaway uid (process limit per sandbox)")
    console.print(f"disk quota: {'[green]yes[/]' if quota else '[yellow]no[/]'} — {escape(quota_reason)}")
    console.print(f"docker: {report['docker']} (tasks run without it: their Dockerfile's COPY/WORKDIR lay out /app)")
    missing = [k for k, v in tools.items() if v is None]
    console.print("tools: " + ", ".join(f"{k}={'yes' if v else 'MISSING'}" for k, v in tools.items()))
    if missing:
        console.print(f"[yellow]missing tools[/]: {', '.join(missing)} (some builtin tasks need them)")


def _docker_state() -> str:
    """'absent', 'client only (no daemon)' or 'daemon reachable' — informative: bashgym needs no Docker."""
    import subprocess

    if shutil.which("docker") is None:
        return "absent"
    try:
        ok = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                            timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return "daemon reachable" if ok else "client only (no daemon)"


def register(app: typer.Typer) -> None:
    app.add_typer(gym_app, name="gym")
