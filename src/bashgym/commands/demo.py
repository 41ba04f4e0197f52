"""`bashgym demo`: the whole flywheel on bundled sessions, in minutes, on the CPU, with no downloads."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from bashgym.commands.common import console
from bashgym.paths import check_home


def demo(
    home: Path | None = typer.Option(None, "--home", help="Where the demo keeps its store, models and report "
                                      "(default: a new temporary directory; never your ~/.bashgym)."),
    steps: int = typer.Option(30, "--steps", help="LoRA SFT steps."),
    tasks: int = typer.Option(8, "--tasks", help="Gym tasks in the base-vs-adapter eval (one per category first)."),
) -> None:
    """Import sample sessions → judge → redacted dataset → LoRA on a tiny local model → gym eval → report.

    Example: bashgym demo --home /tmp/bashgym-demo
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bashgym.demo import clean_home, run_demo
    from bashgym.errors import require

    for module, extra in (("datasets", "factory"), ("trl", "train"), ("gymnasium", "gym")):
        require(module, extra)
    home = check_home((home or Path(tempfile.mkdtemp(prefix="bashgym-demo-"))).expanduser().resolve())
    clean_home(home)
    console.print(f"bashgym demo in [bold]{home}[/bold] (your own store is not touched)")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        ids: dict[str, int] = {}

        def on_stage(name: str, description: str, state: str) -> None:
            if state == "start":
                ids[name] = bar.add_task(f"{description} …", total=1)
            else:
                bar.update(ids[name], description=f"[green]✓[/green] {description}", completed=1)

        result = run_demo(home, steps=steps, tasks=tasks, on_stage=on_stage)
    s = result.stages
    base, adapter = s["eval"]["evals"][0]["overall"], s["eval"]["evals"][1]["overall"]
    console.print(f"imported {s['import']['sessions']} sessions; judged: {s['judge'].get('session_tiers')}")
    console.print(f"dataset {s['dataset']['id']}: {s['dataset']['counts']['examples']} examples (redacted)")
    m = s["train"]["metrics"]
    console.print(f"adapter {s['train']['run_id']}: loss {m['first_loss']:.3f} → {m['final_loss']:.3f}")
    console.print(f"eval pass@1: base {base.get('pass@1', 0):.1%}, adapter {adapter.get('pass@1', 0):.1%}")
    console.print(f"second dataset {s['dataset2']['id']}: {s['dataset2']['counts']['examples']} examples "
                  f"incl. gym rollouts")
    console.print(f"[bold]report: {result.report}[/bold] ({sum(result.seconds.values()):.0f} s)")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
