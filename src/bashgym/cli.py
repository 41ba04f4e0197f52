"""The `bashgym` command: a typer app assembled from one module per command group.

Each module in `bashgym.commands` defines `register(app)` and keeps its heavy imports inside the command
functions, so `bashgym --help` and the capture commands start fast and never import torch.
Library code raises `BashgymError`; `main()` turns it into a one-line message and exit code 1.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from bashgym import __version__
from bashgym.errors import BashgymError, expected_from_pydantic, install_hint

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
    "bashgym.commands.store",
]

STORE_OPTION = typer.Option(
    None, "--store", metavar="URL", show_default=False,
    help="Use this store: a postgresql://USER@HOST:PORT/DB team store or a SQLite file path "
         "(default: $BASHGYM_STORE_URL, else the home's bashgym.db).",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bashgym {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """bashgym: capture → store → judge → factory → train → gym/eval."""


def with_store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with a `--store URL` option that points this process (and those it starts) at that store, as
    BASHGYM_STORE_URL does: written once here rather than in every command."""
    sig = inspect.signature(fn, eval_str=True)
    if "store_url" in sig.parameters:
        return fn

    @functools.wraps(fn)
    def command(*args: Any, store_url: str | None = None, **kwargs: Any) -> Any:
        if isinstance(store_url, str) and store_url:
            os.environ["BASHGYM_STORE_URL"] = store_url
        return fn(*args, **kwargs)

    param = inspect.Parameter("store_url", inspect.Parameter.KEYWORD_ONLY, default=STORE_OPTION,
                              annotation=str | None)
    command.__signature__ = sig.replace(parameters=[*sig.parameters.values(), param])  # type: ignore[attr-defined]
    return command


def _add_store_option(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.callback is not None:
            info.callback = with_store_option(info.callback)
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            if sub.registered_callback is not None and sub.registered_callback.callback is not None:
                sub.registered_callback.callback = with_store_option(sub.registered_callback.callback)
            _add_store_option(sub)


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)
_add_store_option(app)


# Optional packages → the extra that brings them, for a clear message when one is missing.
OPTIONAL_PACKAGES = {
    "datasets": "factory", "pyarrow": "factory", "numpy": "factory", "detect_secrets": "factory",
    "matplotlib": "factory", "torch": "train", "transformers": "train", "trl": "train", "peft": "train",
    "accelerate": "train", "gymnasium": "gym", "httpx": "gym", "fastapi": "ui", "uvicorn": "ui", "jinja2": "ui",
}


def _typer_flags_and_messages() -> None:
    """Two fixes to typer's output, made once here: a flag's help row shows no `<bool>` type (it takes no
    value), and a value typer could not parse reads "got X, expected Y" instead of pydantic's wording.
    Both reach into typer internals, so each is skipped when this typer does not have them."""
    from typer import core

    def flag_type(self: core.TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag and self.metavar is None else original(self, ctx)

    original = core.TyperOption.display_type_rich
    if getattr(original, "__name__", "") != "flag_type":
        core.TyperOption.display_type_rich = flag_type  # type: ignore[method-assign]

    def message(exc: Any) -> str:
        errors = exc.errors()
        if not errors:
            return str(exc)
        return f"got {errors[0].get('input')!r}, expected {expected_from_pydantic(errors[0])}"

    for module in ("typer._coercion", "typer._param_types"):
        mod = sys.modules.get(module) or _import_quietly(module)
        if mod is not None and hasattr(mod, "get_error_msg"):
            mod.get_error_msg = message


def _import_quietly(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_typer_flags_and_messages()


def store_error_message(exc: BaseException) -> str | None:
    """A database error that reached the top as one line naming the store (never its password), or None
    for any other exception. A damaged SQLite page is only found when a query reads it, in any command."""
    import os
    import sqlite3

    from bashgym.paths import db_path
    from bashgym.store.connection import safe_url, scrub

    url = os.environ.get("BASHGYM_STORE_URL")
    where = safe_url(url) if url else str(db_path())
    if isinstance(exc, sqlite3.OperationalError):
        return f"the store {where} could not be used: {exc}"
    if isinstance(exc, sqlite3.DatabaseError):
        return (f"the store {where} is damaged ({exc}); `bashgym doctor` checks it. Move the file aside and "
                "re-import (`bashgym import`), or point --home / BASHGYM_HOME at another directory")
    if type(exc).__module__.split(".")[0] == "psycopg":
        first = scrub(str(exc).strip(), url or "").splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"the team store {where} failed: {first}"
    return None


def main() -> None:
    """The console script: run the app and turn every expected failure into one `error:` line, exit 1."""
    try:
        app()
    except BashgymError as exc:
        _error(str(exc))
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_PACKAGES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        _error(f"this command needs the optional package {exc.name!r}: {install_hint(extra)}")
    except KeyboardInterrupt:
        typer.secho("interrupted: work done so far is saved; run the command again to resume", err=True)
        sys.exit(130)
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave: a bug, so keep the traceback
            raise
        where = f"{exc.filename}" + (f" → {exc.filename2}" if exc.filename2 else "")
        _error(f"{where}: {exc.strerror or exc} (check that path: its type, permissions and free space)")
    except Exception as exc:  # noqa: BLE001 - only database errors are turned into a message
        message = store_error_message(exc)
        if message is None:
            raise
        _error(message)


def _error(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def console() -> None:
    """The `bashgym` executable (and `python -m bashgym.cli`): `main()`, then an exit that skips the interpreter's
    teardown once the work is done and said. Native thread pools (Arrow's, loaded by Parquet reads and
    `datasets`) can abort there with "terminate called without an active exception" (exit -6, seen under
    load after a correct refusal); pyarrow and geoparquet-io report the same. What a normal exit finishes first
    still runs: non-daemon threads are joined, atexit handlers (Ray's shutdown) run, stdout and stderr are
    flushed. An unexpected exception keeps Python's own exit and traceback."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        main()  # under a profiler or tracer (cProfile, coverage): it writes its results after this returns
        return
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    _exit_after_cleanup(code)


def _exit_status(code: object) -> int:
    if code is None or isinstance(code, int):
        return int(code or 0)
    print(code, file=sys.stderr)  # what SystemExit("message") prints
    return 1


def _exit_after_cleanup(code: int) -> None:
    import atexit
    import threading

    shutdown = getattr(threading, "_shutdown", None)  # what Python runs first at exit: joins non-daemon threads
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1  # a closed pipe or stream: what was said did not all arrive
    os._exit(code)


if __name__ == "__main__":
    console()
