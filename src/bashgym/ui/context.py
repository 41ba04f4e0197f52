"""What every page's routes share: the store (one connection per server thread), the templates, and the
checks of query parameters that several pages read. `create_app` puts one `UI` on `app.state.ui`."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from bashgym.errors import BashgymError, bad_value
from bashgym.store import Store

PER_PAGE = 50
MAX_PAGE = 1_000_000  # beyond it the offset overflows SQLite's integer
RAW_CSP = {"Content-Security-Policy": "sandbox; default-src 'none'"}  # text/plain views of untrusted text


class _Stores(threading.local):
    store: Store | None = None


class UI:
    """The app's state: where the store is and how pages are rendered."""

    def __init__(self, store_path: str, env: Environment) -> None:
        self.store_path = store_path
        self.env = env
        self._stores = _Stores()

    def store(self) -> Store:
        """This thread's connection: sqlite3 connections must not be shared across threads."""
        if self._stores.store is None:
            self._stores.store = Store(self.store_path)
        return self._stores.store

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(request=request, nav=template.split(".")[0], **context)
        return HTMLResponse(html, status_code=status)


def ui(request: Request) -> UI:
    return request.app.state.ui


def page_number(raw: str | None) -> int:
    """A `page` query parameter: a whole number from 1 to MAX_PAGE, else a clear 400."""
    raw = raw or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BashgymError(bad_value("page", raw, f"a whole number from 1 to {MAX_PAGE:,}"))
    return int(raw)


def pair(request: Request, what: str) -> tuple[str, str]:
    """The two ids a compare page is asked for (?a=ID&b=ID)."""
    a, b = request.query_params.get("a") or "", request.query_params.get("b") or ""
    if not a or not b:
        raise BashgymError(f"compare needs two {what}: ?a=ID&b=ID")
    return a, b


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BashgymError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise BashgymError("the request body must be a JSON object")
    return body


def as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(400, f"{name} must be an integer, got {value!r}") from None
