"""Training runs: the list, a run's page (loss curves, metrics, its evals), and run vs run."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bashgym.ui import views
from bashgym.ui.context import pair, ui

router = APIRouter()


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    return ui(request).page(request, "runs.html", runs=ui(request).store().list_runs(limit=500))


@router.get("/runs/compare", response_class=HTMLResponse)
def runs_compare(request: Request) -> HTMLResponse:
    return ui(request).page(request, "compare_runs.html", v=views.compare_runs(ui(request).store(), *pair(request, "runs")))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> HTMLResponse:
    return ui(request).page(request, "run.html", v=views.run_view(ui(request).store(), run_id))
