"""The `bashgym` command: a typer app assembled from one module per command group.

Each module in `bashgym.commands` defines `register(app)` and keeps its heavy imports inside the command
functions, so `bashgym --help` and the capture commands start fast and never import torch.
Library code raises `BashgymError`; `main()` turns it into a one-line message and exit code 1.
"""

from __future__ import annotations

import importlib
import sys

import typer

from bashgym import __version__
from bashgym.errors import BashgymError

app = typer.Typer(
    name="bashgym",
    help="Turn coding-agent sessions into better models: capture, judge, build datasets, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per command group; a group's module registers its commands on `app`.
COMMAND_MODULES = [
    "bashgym.commands.dataset",
    "bashgym.commands.train",
    "bashgym.commands.capture",
    "bashgym.commands.imports",
    "bashgym.commands.sessions",
    "bashgym.commands.eval",
    "bashgym.commands.judge",
    "bashgym.commands.ui",
    "bashgym.commands.redact",
    "bashgym.commands.config",
    "bashgym.commands.gym",
    "bashgym.commands.doctor",
    "bashgym.commands.demo",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bashgym {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """bashgym: capture → store → judge → factory → train → gym/eval."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


# Optional packages → the extra that brings them, for a clear message when one is missing.
OPTIONAL_PACKAGES = {
    "datasets": "factory", "pyarrow": "factory", "datasketch": "factory", "detect_secrets": "factory",
    "matplotlib": "factory", "torch": "train", "transformers": "train", "trl": "train", "peft": "train",
    "accelerate": "train", "gymnasium": "gym", "httpx": "gym", "fastapi": "ui", "uvicorn": "ui", "jinja2": "ui",
}


def main() -> None:
    try:
        app()
    except BashgymError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_PACKAGES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        hint = " (torch==2.13.0 first for the CPU build)" if extra == "train" else ""
        typer.secho(f"error: this command needs the optional package {exc.name!r}: "
                    f"pip install 'bashgym[{extra}]'{hint}", fg="red", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.secho("interrupted: work done so far is saved; run the command again to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
