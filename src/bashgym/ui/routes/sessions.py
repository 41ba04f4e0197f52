"""The session list (search, filters, tier counts), a session's page, its raw outputs, and labels."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from bashgym.errors import BashgymError, NotFoundError, check_date
from bashgym.quality import effective_tier, merge_labels
from bashgym.schema import TIERS
from bashgym.store import SORT_KEYS
from bashgym.ui import views
from bashgym.ui.context import PER_PAGE, RAW_CSP, as_int, json_body, page_number, ui

router = APIRouter()
LABELS = ("good", "bad")


def list_args(request: Request) -> dict[str, Any]:
    """The list's query parameters, checked: a typo is a clear 400, never a silent empty list."""
    q = request.query_params
    sort = q.get("sort") or "started"
    if sort not in SORT_KEYS:
        raise BashgymError(f"unknown sort {sort!r}; choose one of {', '.join(SORT_KEYS)}")
    page_no = page_number(q.get("page"))
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


def _search(request: Request, args: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    a = dict(args)
    page_no = a.pop("page")
    query = a.pop("query")
    return ui(request).store().search_sessions(query, limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE, **a)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/sessions")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/sessions", response_class=HTMLResponse)
def sessions_page(request: Request) -> Response:
    store = ui(request).store()
    args = list_args(request)
    rows, total = _search(request, args)
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "token") and v}
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)

    def link(**change: Any) -> str:
        merged = {**params, **{k: v for k, v in change.items() if v is not None}}
        return "/sessions?" + urlencode(merged)

    if args["page"] > pages:  # past the last page (a stale link, a shrunk filter): show the last one
        return RedirectResponse(link(page=pages), status_code=303)
    rows = views.list_rows(store, rows, args["query"])
    counts_args = {k: v for k, v in args.items() if k not in ("sort", "descending", "page")}
    tier_counts = store.tier_counts(counts_args.pop("query"), **counts_args)
    return ui(request).page(
        request, "sessions.html", rows=rows, total=total, args=args, facets=store.session_facets(),
        tiers=TIERS, sorts=list(SORT_KEYS), page_no=args["page"], pages=pages, link=link,
        curation_lists=store.curation_lists(), params=params, tier_counts=tier_counts,
    )


@router.get("/api/sessions")
def sessions_api(request: Request) -> dict[str, Any]:
    args = list_args(request)
    rows, total = _search(request, args)
    return {"total": total, "page": args["page"], "per_page": PER_PAGE,
            "pages": max(1, (total + PER_PAGE - 1) // PER_PAGE), "sessions": rows}


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: str) -> HTMLResponse:
    store = ui(request).store()
    sid = store.resolve_session_id(session_id)
    query = (request.query_params.get("q") or "").strip() or None
    v = views.session_view(store, sid, query=query)
    return ui(request).page(request, "session.html", v=v, tiers=TIERS, curation_lists=store.curation_lists(),
                            neighbours=_neighbours(request, v["session"]))


def _neighbours(request: Request, session: Any) -> dict[str, str | None]:
    """The sessions before and after this one in the list's default order (newest first, top level):
    where `]` and `[` go."""
    if not session.started_at or session.parent_id:
        return {"older": None, "newer": None}
    store = ui(request).store()
    older = store.search_sessions(None, until=session.started_at, parent="", limit=1, sort="started")[0]
    newer = [r for r in store.search_sessions(None, since=session.started_at, parent="", limit=5, sort="started",
                                              descending=False)[0]
             if r["id"] != session.id and (r["started_at"] or "") > session.started_at]
    return {"older": older[0]["id"] if older else None, "newer": newer[0]["id"] if newer else None}


@router.get("/sessions/{session_id}/turns/{turn_idx}/steps/{step_idx}/output")
def step_output(request: Request, session_id: str, turn_idx: int, step_idx: int) -> PlainTextResponse:
    session = ui(request).store().get_session(session_id)
    for turn in session.turns:
        if turn.index == turn_idx and 0 <= step_idx < len(turn.steps):
            # text/plain + nosniff + a sandboxing CSP: the browser shows it, never runs it.
            return PlainTextResponse(turn.steps[step_idx].output or "", headers=RAW_CSP)
    raise NotFoundError(f"no step {turn_idx}/{step_idx} in session {session_id!r}")


@router.get("/api/sessions/{session_id}/labels")
def labels_api(request: Request, session_id: str) -> dict[str, Any]:
    store = ui(request).store()
    sid = store.resolve_session_id(session_id)
    state = views.label_state(store.labels(sid))
    return {"session_id": sid, "labels": store.labels(sid),
            "state": {str(k): {kk: vv for kk, vv in v.items() if kk != "history"} for k, v in state.items()}}


@router.post("/api/labels")
async def add_label(request: Request) -> dict[str, Any]:
    store = ui(request).store()
    body = await json_body(request)
    sid = store.resolve_session_id(str(body.get("session_id") or ""))
    turn_idx = as_int(body.get("turn_idx", -1), "turn_idx")
    label = body.get("label")
    tier = body.get("tier")
    note = body.get("note")
    if label not in (None, "", *LABELS):
        raise BashgymError(f"label must be good or bad, got {label!r}")
    if tier not in (None, "", *TIERS):
        raise BashgymError(f"tier must be one of {', '.join(TIERS)}, got {tier!r}")
    if label is None and tier is None and note is None:
        raise BashgymError("give at least one of label, tier, note")
    if turn_idx != -1 and turn_idx not in {t.index for t in store.get_session(sid).turns}:
        raise NotFoundError(f"session {sid!r} has no turn {turn_idx}")
    # A row holds only the fields this change sets ("" clears one), as `bashgym label` writes them;
    # `quality.merge_labels` folds the rows, so the UI, the CLI, the store and the factory agree.
    fields = {"label": label, "tier": tier, "note": None if note is None else str(note)[:4000]}
    with store.transaction():
        label_id = store.add_label(sid, turn_idx, author="ui", **fields)
    state = views.label_state(store.labels(sid)).get(turn_idx, {})
    judged = next((r["tier"] for r in store.scores(sid, "heuristic") if r["turn_idx"] == turn_idx), None)
    return {"id": label_id, "session_id": sid, "turn_idx": turn_idx,
            "state": {k: v for k, v in state.items() if k != "history"},
            # the tier datasets now use (a person's label wins over the judge's): the page shows it at once
            "effective_tier": effective_tier(judged, merge_labels(store.labels(sid)).get(turn_idx))}
