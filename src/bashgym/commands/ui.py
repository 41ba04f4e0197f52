"""`bashgym ui`: serve the local web app over the store (browse, search, label, curate; datasets, runs, evals)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import typer

from bashgym.commands.common import HOME_OPTION, console, use_home
from bashgym.errors import BashgymError, require

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def ui(
    port: int = typer.Option(8765, "--port", "-p", help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback needs a token."),
    open_browser: bool = typer.Option(False, "--open", help="Open the UI in the default browser."),
    token: str = typer.Option(None, "--token", help="Token to require (default: random when --host is not loopback)."),
    home: Path = HOME_OPTION,
) -> None:
    """Serve the bashgym web UI on http://127.0.0.1:8765 (this machine only, by default).

    Binding another address (--host 0.0.0.0) prints a token that every request must carry, as
    ?token=..., the X-Bashgym-Token header or the cookie the first ?token= visit sets.

    Example:
        bashgym ui --open
        bashgym ui --host 0.0.0.0 --port 9000
    """
    require("fastapi", "ui")
    require("uvicorn", "ui")
    import uvicorn

    from bashgym.store import Store
    from bashgym.store.facade import store_location
    from bashgym.ui.app import create_app

    use_home(home)
    if host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(24)
    port = _free_port(host, port)
    app = create_app(store_location(), token=token)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/" + (f"?token={token}" if token else "")
    with Store.open() as store:
        where = store.describe()  # a team store's URL without its password
    console.print(f"bashgym ui: serving {where} at {url}", soft_wrap=True)
    if token:
        console.print(f"token: {token}  (every request must carry it; keep it private)", soft_wrap=True)
    console.print("press Ctrl+C to stop")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _free_port(host: str, port: int) -> int:
    """The port to use: `port` if it can be bound (a clear error if not), or a free one for 0."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BashgymError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port") from None
        return sock.getsockname()[1]


def register(app: typer.Typer) -> None:
    app.command(name="ui")(ui)
