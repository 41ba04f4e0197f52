"""Evals: the list, an eval's page (per task, base vs adapter), and eval vs eval task by task."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bashgym.ui import views
from bashgym.ui.context import pair, ui

router = APIRouter()


@router.get("/evals", response_class=HTMLResponse)
def evals_page(request: Request) -> HTMLResponse:
    evals = ui(request).store().list_evals(limit=500)
    for e in evals:
        e["rate"] = views.pass_rate(e.get("metrics"))
    return ui(request).page(request, "evals.html", evals=evals)


@router.get("/evals/compare", response_class=HTMLResponse)
def evals_compare(request: Request) -> HTMLResponse:
    v = views.compare_evals(ui(request).store(), *pair(request, "evals"))
    return ui(request).page(request, "compare_evals.html", v=v)


@router.get("/api/evals/compare")
def evals_compare_api(request: Request) -> dict[str, Any]:
    v = views.compare_evals(ui(request).store(), *pair(request, "evals"))
    return {"a": v["a"]["id"], "b": v["b"]["id"], "counts": v["counts"],
            "tasks": [{"task_id": t["task_id"], "flip": t["flip"], "a": t["a"] and t["a"]["rate"],
                       "b": t["b"] and t["b"]["rate"]} for t in v["tasks"]]}


@router.get("/evals/{eval_id}", response_class=HTMLResponse)
def eval_page(request: Request, eval_id: str) -> HTMLResponse:
    return ui(request).page(request, "eval.html", v=views.eval_view(ui(request).store(), eval_id))
