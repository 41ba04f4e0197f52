"""One quality policy everywhere: every (judged tier, label sequence) gets the same effective tier from
`sessions list`, `sessions show`, `sessions stats`, `judge explain`, the factory and the UI.

Labels are written the way people write them: `bashgym label` (partial rows) and the UI's POST /api/labels
(only the fields it changes, "" to clear), on a real store; each surface is read through its own command
or route. The expected tier is written out by hand per sequence, so a policy change shows up here.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.factory.select import read_sessions
from bashgym.quality import merge_labels, normalize_label
from bashgym.schema import Session, Step, Turn
from bashgym.store import Store
from bashgym.ui import views
from bashgym.ui.app import create_app

runner = CliRunner()
WRITE = {"X-Bashgym-Request": "1"}
JUDGED = (None, "gold", "silver", "bronze", "failed")

# (name, writes, the human tier they give or None when the judge's tier stands). A write is
# ("cli", VALUE) for `bashgym label`, ("ui", {fields}) for the UI, ("store", {fields}) for an imported row.
SEQUENCES: list[tuple[str, list[tuple[str, Any]], str | None]] = [
    ("none", [], None),
    ("good", [("cli", "good")], "gold"),
    ("bad", [("cli", "bad")], "failed"),
    ("tier-silver", [("cli", "tier=silver")], "silver"),
    ("tier-silver-then-good", [("cli", "tier=silver"), ("cli", "good")], "silver"),  # the issue's lost silver
    ("good-then-tier-bronze", [("cli", "good"), ("cli", "tier=bronze")], "bronze"),
    ("tier-gold-then-bad", [("cli", "tier=gold"), ("cli", "bad")], "failed"),  # a rejection wins
    ("bad-then-good", [("cli", "bad"), ("cli", "good")], "gold"),
    ("ui-good-then-cleared", [("ui", {"label": "good"}), ("ui", {"label": ""})], None),
    ("ui-tier-then-note", [("ui", {"tier": "bronze"}), ("ui", {"note": "meh"})], "bronze"),
    ("cli-tier-then-ui-good", [("cli", "tier=silver"), ("ui", {"label": "good"})], "silver"),
    ("ui-good-then-cli-tier", [("ui", {"label": "good"}), ("cli", "tier=failed")], "failed"),
    ("ui-tier-cleared", [("ui", {"tier": "silver"}), ("ui", {"tier": ""})], None),
    ("synonym-accepted", [("store", {"label": "Accepted"})], "gold"),
    ("synonym-reject", [("store", {"label": "reject", "tier": "gold"})], "failed"),
    ("other-label", [("store", {"label": "exclude"})], None),
]
CASES = [(judged, name, writes, human) for judged in JUDGED for name, writes, human in SEQUENCES]


HOME: list[str] = []  # the module's store, named on every command (each test gets its own BASHGYM_HOME)


def invoke(*args: str) -> str:
    result = runner.invoke(app, [*args, "--home", *HOME], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _sid(judged: str | None, name: str) -> str:
    return f"q-{judged or 'unjudged'}-{name}"


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("quality") / ".bashgym"
    HOME[:] = [str(home)]
    store = Store.open(home)
    with store.transaction():
        for i, (judged, name, _, _) in enumerate(CASES):
            sid = _sid(judged, name)
            store.save_session(Session(
                id=sid, source="claude_code", started_at=f"2026-11-01T00:{i // 60:02d}:{i % 60:02d}Z",
                turns=[Turn(index=0, prompt=f"task {sid}", steps=[
                    Step(kind="tool_call", tool_name="Bash", input={"command": "ls"}, output="a", exit_code=0),
                    Step(kind="message", text="done")])]))
            if judged:
                store.put_score(sid, -1, "heuristic", 0.5, judged, {})
                store.put_score(sid, 0, "heuristic", 0.5, judged, {})
    client = TestClient(create_app(store.path))
    for judged, name, writes, _ in CASES:
        sid = _sid(judged, name)
        for how, value in writes:
            if how == "cli":
                invoke("label", sid, value)
            elif how == "ui":
                r = client.post("/api/labels", json={"session_id": sid, "turn_idx": -1, **value}, headers=WRITE)
                assert r.status_code == 200, r.text
            else:
                with store.transaction():
                    store.add_label(sid, -1, **value)
    yield {"store": store, "client": client}
    store.close()


def test_every_surface_gives_the_policy_tier(labelled: dict[str, Any]) -> None:
    store: Store = labelled["store"]
    client: TestClient = labelled["client"]
    expected = {_sid(j, n): (human or j) for j, n, _, human in CASES}

    listed = {r["id"]: r["tier"] for r in json.loads(invoke("sessions", "list", "--json", "--limit", "0"))}
    by_filter = {sid: t for t in ("gold", "silver", "bronze", "failed")
                 for sid in (r["id"] for r in json.loads(invoke("sessions", "list", "--tier", t, "--json", "-n", "0")))}
    stats = json.loads(invoke("sessions", "stats", "--json"))["by_tier"]
    factory = {ex.id: ex.tier for ex in read_sessions(store)}
    ui_rows: dict[str, str | None] = {}
    page = 1
    while True:
        got = client.get("/api/sessions", params={"page": page}).json()["sessions"]
        ui_rows.update({r["id"]: r["tier"] for r in got})
        if not got:
            break
        page += 1
    ui_filter = {sid: t for t in ("gold", "silver", "bronze", "failed")
                 for sid in (r["id"] for p in range(1, 4)
                             for r in client.get("/api/sessions", params={"tier": t, "page": p}).json()["sessions"])}

    wrong = []
    for sid, want in expected.items():
        shown = json.loads(invoke("sessions", "show", sid, "--json"))
        ui_view = views.session_view(store, sid)
        got = {"list": listed[sid], "list --tier": by_filter.get(sid), "show": shown["tier"],
               "factory": factory[sid], "ui list": ui_rows[sid], "ui --tier": ui_filter.get(sid),
               "ui session": ui_view["effective_tier"]}
        if shown["judged_tier"]:
            explained = json.loads(invoke("judge", "explain", sid, "--json"))
            got["judge explain"] = explained["effective_tier"]
        wrong += [f"{sid}: {where} says {tier}, the policy {want}" for where, tier in got.items() if tier != want]
    assert not wrong, "\n".join(wrong)
    assert stats == dict(Counter((t or "unscored") for t in expected.values()))


def test_the_issues_cases_resolve_as_documented(labelled: dict[str, Any]) -> None:
    store: Store = labelled["store"]
    rows = {r["id"]: r for r in store.list_sessions(limit=None)}
    # judged silver + good: gold everywhere (it was silver, gold and silver); judged gold + bad: failed.
    assert rows[_sid("silver", "good")]["tier"] == "gold"
    assert rows[_sid("gold", "bad")]["tier"] == "failed"
    # `label tier=silver` then `label good` keeps the silver (the UI used to carry rows forward and lose it)
    assert rows[_sid("gold", "tier-silver-then-good")]["tier"] == "silver"
    assert rows[_sid("gold", "tier-silver-then-good")]["judged_tier"] == "gold"


def test_label_rows_merge_field_by_field_and_empty_clears() -> None:
    rows = [{"turn_idx": 0, "label": "good", "tier": None, "note": "first"},
            {"turn_idx": 0, "label": None, "tier": "bronze", "note": None},
            {"turn_idx": 0, "label": "", "tier": None, "note": None},
            {"turn_idx": -1, "label": "Reject", "tier": None, "note": None}]
    merged = merge_labels(rows)
    assert (merged[0].label, merged[0].tier, merged[0].note) == (None, "bronze", "first")
    assert len(merged[0].history) == 3
    assert merged[-1].human_tier == "failed" and normalize_label(merged[-1].label) == "bad"
