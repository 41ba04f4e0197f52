"""The web app: FastAPI routes over the store, Jinja2 templates (autoescaped), static JS/CSS from the package.

`create_app(store_path, token=None)` builds it: the guard and error pages here, the routes in `ui/routes/`
(one router per page family), what they share in `ui/context.py`, what each page shows in `ui/views.py`. Security, because transcripts are untrusted and the
store is private:
- every template is autoescaped and a strict Content-Security-Policy allows only our own script and
  style files (no inline script, no inline style), so injected markup can neither run nor restyle;
- with a token (set when serving beyond 127.0.0.1) every request must carry it as the
  `X-Bashgym-Token` header, `?token=` (which also sets a cookie) or the `bashgym_token` cookie;
- without one, only loopback Host headers are answered (defeats DNS rebinding);
- every write needs the `X-Bashgym-Request` header, which a cross-site form cannot send (CSRF).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bashgym.errors import BashgymError, NotFoundError
from bashgym.store import Store
from bashgym.ui import render
from bashgym.ui.context import UI
from bashgym.ui.routes import curation, datasets, evals, runs, sessions

HERE = Path(__file__).parent
TOKEN_HEADER = "x-bashgym-token"
TOKEN_COOKIE = "bashgym_token"
WRITE_HEADER = "x-bashgym-request"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short"] = render.short
    env.filters["snippet"] = render.snippet_html
    env.filters["ansi"] = render.ansi_to_html
    env.filters["highlight"] = render.highlight
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else ("" if v is None else f"{v:.3g}")
    env.filters["pct"] = lambda v: "" if v is None else f"{v * 100:.0f}%"
    env.filters["when"] = lambda v: (v or "")[:16].replace("T", " ")
    return env


def create_app(store_path: str | Path, token: str | None = None) -> FastAPI:
    """The bashgym UI over the store at `store_path`. With `token`, every request must carry it."""
    store_path = str(store_path)  # a file path or a team store's URL
    with Store(store_path) as first:  # create and migrate once, before any request
        first.refresh_search_index()  # sessions imported since the last start become searchable
    app = FastAPI(title="bashgym", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ui = ui = UI(store_path, _templates())
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        refusal = _refusal(request, token)
        response = refusal if refusal is not None else await call_next(request)
        # Every response, refusals included; a route that set its own (stricter, sandboxing) CSP keeps it.
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if refusal is None and token is not None and request.query_params.get("token") == token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=404)
        return ui.page(request, "error.html", status=404, message=str(exc))

    @app.exception_handler(BashgymError)
    async def bad_request(request: Request, exc: BashgymError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return ui.page(request, "error.html", status=400, message=str(exc))

    for module in (sessions, curation, datasets, runs, evals):
        app.include_router(module.router)
    return app


def _refusal(request: Request, token: str | None) -> Response | None:
    """Why this request is not answered (wrong host, no token, a write without the header), or None."""
    if token is None:
        if _hostname(request.headers.get("host") or "") not in LOOPBACK_HOSTS:
            return PlainTextResponse("bashgym ui answers only on localhost", status_code=403)
    else:
        given = (
            request.headers.get(TOKEN_HEADER)
            or request.query_params.get("token")
            or request.cookies.get(TOKEN_COOKIE)
            or ""
        )
        if not hmac.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse("missing or wrong token: open the URL printed by `bashgym ui`", status_code=401)
    if request.method not in ("GET", "HEAD") and request.headers.get(WRITE_HEADER) != "1":
        return PlainTextResponse("writes need the X-Bashgym-Request header", status_code=403)
    return None


def _hostname(host: str) -> str:
    """'127.0.0.1:8000' → '127.0.0.1'; '[::1]:8000' → '[::1]'."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0]
