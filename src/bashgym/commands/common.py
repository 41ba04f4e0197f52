"""Options and helpers every command group shares: written once, reused (see STYLE.md §5)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bashgym.paths import check_home
from bashgym.store import Store

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

HOME_OPTION = typer.Option(
    None, "--home", help="bashgym home directory (default: $BASHGYM_HOME or ~/.bashgym).", show_default=False
)
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
ENGINE_OPTION = typer.Option(
    "local", "--engine", help="local (this machine, --workers processes) or ray (Ray Data: a local Ray, or the "
    "cluster at --ray-address; needs bashgym[scale], docs/scale.md). Same output either way."
)
RAY_ADDRESS_OPTION = typer.Option(
    None, "--ray-address", help="With --engine ray: auto (the cluster this machine joined with `ray start`), "
    "ray://HOST:PORT (Ray Client) or HOST:PORT; default: start a local Ray.", show_default=False
)


def engine_workers(engine: str, ray_address: str | None, workers: int | None) -> int:
    """--workers as the engine reads it (local: 1 by default; ray: 0, every CPU), the flags checked first."""
    from bashgym.errors import ConfigError
    from bashgym.scale.cluster import check_engine, check_ray_address

    check_engine(engine)
    check_ray_address(ray_address, engine)
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: got {workers}, expected 1 or more")
    return workers if workers is not None else (0 if engine == "ray" else 1)


def engine_line(info: dict[str, Any]) -> str:
    """What ran the work, for a command's summary: "engine: ray (local, 2 CPUs), 2 workers"."""
    workers = f"{info['workers']} worker{'s' if info['workers'] != 1 else ''}"
    if info["engine"] == "ray":
        return f"engine: ray ({info['address']}, {info['cpus']} CPUs), {workers}"
    return f"engine: local, {workers}"


def use_home(home: Path | None) -> Path | None:
    """Point this process (and the processes it starts) at another bashgym home."""
    if home is not None:
        home = check_home(home.expanduser().resolve())
        os.environ["BASHGYM_HOME"] = str(home)
    else:
        check_home()
    return home


def open_store(home: Path | None = None, *, readonly: bool = False) -> Store:
    use_home(home)
    return Store.open(readonly=readonly)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    sys.stdout.flush()


def progress(transient: bool = False) -> Progress:
    """The standard progress bar: spinner, description, bar, n/m, elapsed. Draws on stderr.

    A transient bar is off when stderr is not a terminal: rich would print its empty final frame there,
    a stray blank line before the command's output or error."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
        disable=transient and not err_console.is_terminal,
    )


def parse_target(target: str) -> tuple[str, int | None]:
    """'SESSION' or 'SESSION:TURN' → (session id or prefix, turn index or None)."""
    if ":" in target:
        sid, _, turn = target.rpartition(":")
        try:
            return sid, int(turn)
        except ValueError:
            raise typer.BadParameter(f"turn must be a number in SESSION:TURN, got {turn!r}") from None
    return target, None
