"""The web app: FastAPI routes over the store, Jinja2 templates (autoescaped), static JS/CSS from the package.

`create_app(store_path, token=None)` builds it. Security, because transcripts are untrusted and the
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
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bashgym.errors import BashgymError, NotFoundError, bad_value, check_date
from bashgym.schema import TIERS
from bashgym.store import SORT_KEYS, Store
from bashgym.ui import render, views

HERE = Path(__file__).parent
TOKEN_HEADER = "x-bashgym-token"
TOKEN_COOKIE = "bashgym_token"
WRITE_HEADER = "x-bashgym-request"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver"}
PER_PAGE = 50
MAX_PAGE = 1_000_000  # beyond it the offset overflows SQLite's integer
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
LABELS = ("good", "bad")


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


class _Stores(threading.local):
    store: Store | None = None


def create_app(store_path: str | Path, token: str | None = None) -> FastAPI:
    """The bashgym UI over the store at `store_path`. With `token`, every request must carry it."""
    store_path = str(store_path)  # a file path or a team store's URL
    with Store(store_path) as first:  # create and migrate once, before any request
        first.refresh_search_index()  # sessions imported since the last start become searchable
    stores = _Stores()
    env = _templates()
    app = FastAPI(title="bashgym", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def store() -> Store:
        # One connection per server thread: sqlite3 connections must not be shared across threads.
        if stores.store is None:
            stores.store = Store(store_path)
        return stores.store

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(request=request, nav=template.split(".")[0], **context)
        return HTMLResponse(html, status_code=status)

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
        return page(request, "error.html", status=404, message=str(exc))

    @app.exception_handler(BashgymError)
    async def bad_request(request: Request, exc: BashgymError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return page(request, "error.html", status=400, message=str(exc))

    # -------------------------------------------------------------------------------------- sessions

    def _list_args(request: Request) -> dict[str, Any]:
        q = request.query_params
        sort = q.get("sort") or "started"
        if sort not in SORT_KEYS:
            raise BashgymError(f"unknown sort {sort!r}; choose one of {', '.join(SORT_KEYS)}")
        raw_page = q.get("page") or "1"
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
            raise BashgymError(bad_value("page", raw_page, f"a whole number from 1 to {MAX_PAGE:,}"))
        page_no = int(raw_page)
        check_date("since", q.get("since") or None)
        check_date("until", q.get("until") or None)
        return {
            "query": (q.get("q") or "").strip() or None,
            "source": q.get("source") or None,
            "project": q.get("project") or None,
            "model": q.get("model") or None,
            "user": q.get("user") or None,  # a team store: whose machine the session was synced from
            "tier": q.get("tier") or None,
            "label": q.get("label") or None,
            "curation": q.get("list") or None,
            "since": q.get("since") or None,
            # A bare date is inclusive: "until 2026-11-21" keeps that whole day.
            "until": (q.get("until") + "T24") if len(q.get("until") or "") == 10 else (q.get("until") or None),
            "parent": "" if q.get("subagents") != "1" else None,
            "sort": sort,
            "descending": q.get("order") != "asc",
            "page": page_no,
        }

    def _search(args: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        a = dict(args)
        page_no = a.pop("page")
        query = a.pop("query")
        return store().search_sessions(query, limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE, **a)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/sessions")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sessions", response_class=HTMLResponse)
    def sessions_page(request: Request) -> Response:
        args = _list_args(request)
        rows, total = _search(args)
        params = {k: v for k, v in request.query_params.items() if k not in ("page", "token") and v}
        pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)

        def link(**change: Any) -> str:
            merged = {**params, **{k: v for k, v in change.items() if v is not None}}
            return "/sessions?" + urlencode(merged)

        if args["page"] > pages:  # past the last page (a stale link, a shrunk filter): show the last one
            return RedirectResponse(link(page=pages), status_code=303)
        rows = views.list_rows(store(), rows, args["query"])
        counts_args = {k: v for k, v in args.items() if k not in ("sort", "descending", "page")}
        tier_counts = store().tier_counts(counts_args.pop("query"), **counts_args)

        return page(
            request, "sessions.html", rows=rows, total=total, args=args, facets=store().session_facets(),
            tiers=TIERS, sorts=list(SORT_KEYS), page_no=args["page"], pages=pages, link=link,
            curation_lists=store().curation_lists(), params=params, tier_counts=tier_counts,
        )

    @app.get("/api/sessions")
    def sessions_api(request: Request) -> dict[str, Any]:
        args = _list_args(request)
        rows, total = _search(args)
        return {"total": total, "page": args["page"], "per_page": PER_PAGE,
                "pages": max(1, (total + PER_PAGE - 1) // PER_PAGE), "sessions": rows}

    @app.get("/sessions/{session_id}", response_class=HTMLResponse)
    def session_page(request: Request, session_id: str) -> HTMLResponse:
        sid = store().resolve_session_id(session_id)
        query = (request.query_params.get("q") or "").strip() or None
        return page(request, "session.html", v=views.session_view(store(), sid, query=query), tiers=TIERS,
                    curation_lists=store().curation_lists())

    @app.get("/sessions/{session_id}/turns/{turn_idx}/steps/{step_idx}/output")
    def step_output(session_id: str, turn_idx: int, step_idx: int) -> PlainTextResponse:
        session = store().get_session(session_id)
        for turn in session.turns:
            if turn.index == turn_idx and 0 <= step_idx < len(turn.steps):
                # text/plain + nosniff + a sandboxing CSP: the browser shows it, never runs it.
                return PlainTextResponse(
                    turn.steps[step_idx].output or "",
                    headers={"Content-Security-Policy": "sandbox; default-src 'none'"},
                )
        raise NotFoundError(f"no step {turn_idx}/{step_idx} in session {session_id!r}")

    @app.get("/api/sessions/{session_id}/labels")
    def labels_api(session_id: str) -> dict[str, Any]:
        sid = store().resolve_session_id(session_id)
        state = views.label_state(store().labels(sid))
        return {"session_id": sid, "labels": store().labels(sid),
                "state": {str(k): {kk: vv for kk, vv in v.items() if kk != "history"} for k, v in state.items()}}

    @app.post("/api/labels")
    async def add_label(request: Request) -> dict[str, Any]:
        body = await _json(request)
        sid = store().resolve_session_id(str(body.get("session_id") or ""))
        turn_idx = _int(body.get("turn_idx", -1), "turn_idx")
        label = body.get("label")
        tier = body.get("tier")
        note = body.get("note")
        if label not in (None, "", *LABELS):
            raise BashgymError(f"label must be good or bad, got {label!r}")
        if tier not in (None, "", *TIERS):
            raise BashgymError(f"tier must be one of {', '.join(TIERS)}, got {tier!r}")
        if label is None and tier is None and note is None:
            raise BashgymError("give at least one of label, tier, note")
        if turn_idx != -1 and turn_idx not in {t.index for t in store().get_session(sid).turns}:
            raise NotFoundError(f"session {sid!r} has no turn {turn_idx}")
        # A row holds only the fields this change sets ("" clears one), as `bashgym label` writes them;
        # `quality.merge_labels` folds the rows, so the UI, the CLI, the store and the factory agree.
        fields = {"label": label, "tier": tier, "note": None if note is None else str(note)[:4000]}
        with store().transaction():
            label_id = store().add_label(sid, turn_idx, author="ui", **fields)
        state = views.label_state(store().labels(sid)).get(turn_idx, {})
        return {"id": label_id, "session_id": sid, "turn_idx": turn_idx,
                "state": {k: v for k, v in state.items() if k != "history"}}

    @app.post("/api/curation")
    async def curate(request: Request) -> dict[str, Any]:
        body = await _json(request)
        name = str(body.get("name") or "").strip()
        if not name or len(name) > 100:
            raise BashgymError("a curation list needs a name (1-100 characters)")
        ids = body.get("session_ids") or []
        if not isinstance(ids, list) or not ids:
            raise BashgymError("session_ids must be a non-empty list")
        resolved = [store().resolve_session_id(str(i)) for i in ids[:10_000]]
        with store().transaction():
            if body.get("remove"):
                changed = store().remove_from_curation_list(name, resolved)
            else:
                changed = store().add_to_curation_list(name, resolved, note=body.get("note"))
        return {"name": name, "changed": changed, "size": len(store().curation_list_session_ids(name))}

    @app.get("/curation", response_class=HTMLResponse)
    def curation_page(request: Request) -> HTMLResponse:
        return page(request, "curation.html", lists=store().curation_lists())

    @app.post("/api/curation/{name}/build")
    def build_from_list(name: str) -> dict[str, Any]:
        """Build a dataset from a curated list (what pasting its ids into `select.sessions` did by hand):
        the default build config otherwise, redacted, named after the list."""
        from bashgym.factory.build import build_dataset
        from bashgym.factory.config import DatasetConfig

        ids = store().curation_list_session_ids(name)
        if not ids:
            raise NotFoundError(f"curation list {name!r} is empty or does not exist")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "list"
        cfg = DatasetConfig(name=slug)
        cfg.select.sessions = ids
        record = build_dataset(store(), cfg, redact=True)
        counts = record["counts"]
        return {"id": record["id"], "path": record["path"], "rows": counts["rows"], "sessions": counts["sessions"],
                "selection": counts.get("selection"), "url": f"/datasets/{record['id']}"}

    @app.get("/api/curation/{name}")
    def curation_api(name: str) -> dict[str, Any]:
        return {"name": name, "session_ids": store().curation_list_session_ids(name)}

    # -------------------------------------------------------------------------------------- datasets etc.

    @app.get("/datasets", response_class=HTMLResponse)
    def datasets_page(request: Request) -> HTMLResponse:
        return page(request, "datasets.html", datasets=store().list_datasets())

    def _examples(request: Request, dataset_id: str) -> dict[str, Any]:
        q = request.query_params
        raw_page = q.get("page") or "1"
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
            raise BashgymError(bad_value("page", raw_page, f"a whole number from 1 to {MAX_PAGE:,}"))
        split = q.get("split") or None
        if split not in (None, "train", "validation", "test"):
            raise BashgymError(bad_value("split", split, "train, validation or test"))
        return views.dataset_examples(store(), dataset_id, (q.get("q") or "").strip() or None, int(raw_page), split)

    def _pair(request: Request, what: str) -> tuple[str, str]:
        a, b = request.query_params.get("a") or "", request.query_params.get("b") or ""
        if not a or not b:
            raise BashgymError(f"compare needs two {what}: ?a=ID&b=ID")
        return a, b

    @app.get("/datasets/compare", response_class=HTMLResponse)
    def datasets_compare(request: Request) -> HTMLResponse:
        return page(request, "compare_datasets.html", v=views.compare_datasets(store(), *_pair(request, "datasets")))

    @app.get("/datasets/{dataset_id}", response_class=HTMLResponse)
    def dataset_page(request: Request, dataset_id: str) -> HTMLResponse:
        v = views.dataset_view(store(), dataset_id)
        ex = _examples(request, v["ds"]["id"])
        params = {k: val for k, val in request.query_params.items() if k in ("q", "split") and val}

        def link(**change: Any) -> str:
            return f"/datasets/{v['ds']['id']}?" + urlencode({**params, **change}) + "#examples"

        return page(request, "dataset.html", v=v, ex=ex, link=link)

    @app.get("/api/datasets/{dataset_id}/examples")
    def dataset_examples_api(request: Request, dataset_id: str) -> dict[str, Any]:
        ex = _examples(request, store().get_dataset(dataset_id)["id"])
        for e in ex["examples"]:
            e.pop("json")
        return ex

    @app.get("/datasets/{dataset_id}/card", response_class=HTMLResponse)
    def dataset_card(request: Request, dataset_id: str) -> HTMLResponse:
        ds, html = views.card_html(store(), dataset_id)
        return page(request, "card.html", ds=ds, card=html)

    @app.get("/datasets/{dataset_id}/card.md")
    def dataset_card_source(dataset_id: str) -> PlainTextResponse:
        card = Path(store().get_dataset(dataset_id)["path"]) / "README.md"
        if not card.is_file():
            raise NotFoundError(f"dataset {dataset_id!r} has no card at {card}")
        return PlainTextResponse(card.read_text(encoding="utf-8", errors="replace"),
                                 headers={"Content-Security-Policy": "sandbox; default-src 'none'"})

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request) -> HTMLResponse:
        return page(request, "runs.html", runs=store().list_runs(limit=500))

    @app.get("/runs/compare", response_class=HTMLResponse)
    def runs_compare(request: Request) -> HTMLResponse:
        return page(request, "compare_runs.html", v=views.compare_runs(store(), *_pair(request, "runs")))

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str) -> HTMLResponse:
        return page(request, "run.html", v=views.run_view(store(), run_id))

    @app.get("/evals", response_class=HTMLResponse)
    def evals_page(request: Request) -> HTMLResponse:
        evals = store().list_evals(limit=500)
        for e in evals:
            e["rate"] = views.pass_rate(e.get("metrics"))
        return page(request, "evals.html", evals=evals)

    @app.get("/evals/compare", response_class=HTMLResponse)
    def evals_compare(request: Request) -> HTMLResponse:
        return page(request, "compare_evals.html", v=views.compare_evals(store(), *_pair(request, "evals")))

    @app.get("/api/evals/compare")
    def evals_compare_api(request: Request) -> dict[str, Any]:
        v = views.compare_evals(store(), *_pair(request, "evals"))
        return {"a": v["a"]["id"], "b": v["b"]["id"], "counts": v["counts"],
                "tasks": [{"task_id": t["task_id"], "flip": t["flip"], "a": t["a"] and t["a"]["rate"],
                           "b": t["b"] and t["b"]["rate"]} for t in v["tasks"]]}

    @app.get("/evals/{eval_id}", response_class=HTMLResponse)
    def eval_page(request: Request, eval_id: str) -> HTMLResponse:
        return page(request, "eval.html", v=views.eval_view(store(), eval_id))

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


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BashgymError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise BashgymError("the request body must be a JSON object")
    return body


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(400, f"{name} must be an integer, got {value!r}") from None


def _hostname(host: str) -> str:
    """'127.0.0.1:8000' → '127.0.0.1'; '[::1]:8000' → '[::1]'."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0]
