"""Curation lists: add or remove sessions, list them, and build a dataset from one."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bashgym.errors import BashgymError, NotFoundError
from bashgym.ui.context import json_body, ui

router = APIRouter()


@router.post("/api/curation")
async def curate(request: Request) -> dict[str, Any]:
    store = ui(request).store()
    body = await json_body(request)
    name = str(body.get("name") or "").strip()
    if not name or len(name) > 100:
        raise BashgymError("a curation list needs a name (1-100 characters)")
    ids = body.get("session_ids") or []
    if not isinstance(ids, list) or not ids:
        raise BashgymError("session_ids must be a non-empty list")
    resolved = [store.resolve_session_id(str(i)) for i in ids[:10_000]]
    with store.transaction():
        if body.get("remove"):
            changed = store.remove_from_curation_list(name, resolved)
        else:
            changed = store.add_to_curation_list(name, resolved, note=body.get("note"))
    return {"name": name, "changed": changed, "size": len(store.curation_list_session_ids(name))}


@router.get("/curation", response_class=HTMLResponse)
def curation_page(request: Request) -> HTMLResponse:
    return ui(request).page(request, "curation.html", lists=ui(request).store().curation_lists())


@router.post("/api/curation/{name}/build")
def build_from_list(request: Request, name: str) -> dict[str, Any]:
    """Build a dataset from a curated list (what pasting its ids into `select.sessions` did by hand):
    the default build config otherwise, redacted, named after the list."""
    from bashgym.factory.build import build_dataset
    from bashgym.factory.config import DatasetConfig

    store = ui(request).store()
    ids = store.curation_list_session_ids(name)
    if not ids:
        raise NotFoundError(f"curation list {name!r} is empty or does not exist")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "list"
    cfg = DatasetConfig(name=slug)
    cfg.select.sessions = ids
    record = build_dataset(store, cfg, redact=True)
    counts = record["counts"]
    return {"id": record["id"], "path": record["path"], "rows": counts["rows"], "sessions": counts["sessions"],
            "selection": counts.get("selection"), "url": f"/datasets/{record['id']}"}


@router.get("/api/curation/{name}")
def curation_api(request: Request, name: str) -> dict[str, Any]:
    return {"name": name, "session_ids": ui(request).store().curation_list_session_ids(name)}
