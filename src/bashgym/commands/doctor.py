"""`bashgym doctor`: is this machine ready for every stage? Each line OK, or what to do."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from bashgym.commands.common import HOME_OPTION, JSON_OPTION, console, print_json, use_home


def doctor(home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Check Python and packages, torch/CUDA, the sandbox layer, hooks and events, the store, agent CLIs.

    Example: bashgym doctor --json
    """
    from bashgym.doctor import FAIL, OK, run_checks

    use_home(home)
    checks = run_checks()
    if as_json:
        print_json([c.to_dict() for c in checks])
    else:
        table = Table(title="bashgym doctor")
        for col in ("check", "status", "detail", "what to do"):
            table.add_column(col)
        colors = {OK: "green", FAIL: "red"}
        for c in checks:
            color = colors.get(c.status, "yellow")
            table.add_row(escape(c.name), f"[{color}]{c.status.upper()}[/{color}]", escape(c.detail), escape(c.fix))
        console.print(table)
    if any(c.status == FAIL for c in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
