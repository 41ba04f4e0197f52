"""Datasets: the list, a dataset's page with its rows to review, its card, and dataset vs dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from bashgym.errors import BashgymError, NotFoundError, bad_value
from bashgym.ui import views
from bashgym.ui.context import RAW_CSP, page_number, pair, ui

router = APIRouter()


def _examples(request: Request, dataset_id: str) -> dict[str, Any]:
    q = request.query_params
    split = q.get("split") or None
    if split not in (None, "train", "validation", "test"):
        raise BashgymError(bad_value("split", split, "train, validation or test"))
    return views.dataset_examples(ui(request).store(), dataset_id, (q.get("q") or "").strip() or None,
                                  page_number(q.get("page")), split)


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(request: Request) -> HTMLResponse:
    return ui(request).page(request, "datasets.html", datasets=ui(request).store().list_datasets())


@router.get("/datasets/compare", response_class=HTMLResponse)
def datasets_compare(request: Request) -> HTMLResponse:
    v = views.compare_datasets(ui(request).store(), *pair(request, "datasets"))
    return ui(request).page(request, "compare_datasets.html", v=v)


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(request: Request, dataset_id: str) -> HTMLResponse:
    v = views.dataset_view(ui(request).store(), dataset_id)
    ex = _examples(request, v["ds"]["id"])
    params = {k: val for k, val in request.query_params.items() if k in ("q", "split") and val}

    def link(**change: Any) -> str:
        return f"/datasets/{v['ds']['id']}?" + urlencode({**params, **change}) + "#examples"

    return ui(request).page(request, "dataset.html", v=v, ex=ex, link=link)


@router.get("/api/datasets/{dataset_id}/examples")
def dataset_examples_api(request: Request, dataset_id: str) -> dict[str, Any]:
    ex = _examples(request, ui(request).store().get_dataset(dataset_id)["id"])
    for e in ex["examples"]:
        e.pop("json")
    return ex


@router.get("/datasets/{dataset_id}/card", response_class=HTMLResponse)
def dataset_card(request: Request, dataset_id: str) -> HTMLResponse:
    ds, html = views.card_html(ui(request).store(), dataset_id)
    return ui(request).page(request, "card.html", ds=ds, card=html)


@router.get("/datasets/{dataset_id}/card.md")
def dataset_card_source(request: Request, dataset_id: str) -> PlainTextResponse:
    card = Path(ui(request).store().get_dataset(dataset_id)["path"]) / "README.md"
    if not card.is_file():
        raise NotFoundError(f"dataset {dataset_id!r} has no card at {card}")
    return PlainTextResponse(card.read_text(encoding="utf-8", errors="replace"), headers=RAW_CSP)
