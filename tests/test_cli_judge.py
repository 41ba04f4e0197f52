"""`bashgym judge`, `judge explain`, `judge report`, `judge config`, `verify` and `label` end to end
(typer's runner over the real app and a real store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.judge.results import session_judgement
from bashgym.schema import Session
from bashgym.store import Store
from judge_cases import calibration_cases

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def seeded(store: Store) -> Store:
    """Six calibration sessions: three clearly good, three clearly bad."""
    cases = calibration_cases()
    picked = [c for c in cases if c["label"] == "good"][:3] + [c for c in cases if c["label"] == "bad"][:3]
    with store.transaction():
        for c in picked:
            store.save_session(Session.from_dict(c["session"]))
    return store


def test_judge_is_incremental_and_rescore_redoes_everything(seeded: Store) -> None:
    first = json.loads(invoke("judge", "--json"))
    assert first["sessions"] == 6 and first["session_tiers"]["gold"] == 3 and first["turn_tiers"]["failed"] >= 3
    assert "nothing to judge" in invoke("judge")
    again = json.loads(invoke("judge", "--rescore", "--json"))
    assert again["sessions"] == 6
    listed = seeded.list_sessions(tier="gold", sort="score")
    assert {r["id"] for r in listed} == {"calib-g01", "calib-g02", "calib-g03"}


def test_judge_rescores_a_reimported_session(seeded: Store) -> None:
    invoke("judge")
    session = seeded.get_session("calib-b01")
    with seeded.transaction():
        seeded.save_session(session)
    out = json.loads(invoke("judge", "--json"))
    assert out["sessions"] == 1


def test_judge_concurrent_with_an_import_never_leaves_stale_scores(seeded: Store) -> None:
    """An import commits a grown session while the judge is scoring the old one: the judge must not stamp
    its scores of the old content as fresh (it used to: 1 stale session in 5 of 9 rounds, skipped later)."""
    import threading
    import time

    from bashgym.judge.config import load_config
    from bashgym.judge.runner import judge_store

    sid = "calib-g01"
    grown = seeded.get_session(sid)
    extra = Session.from_dict(grown.to_dict())
    grown.turns.append(extra.turns[0])
    grown.turns[-1].index = len(grown.turns) - 1
    importer = Store(seeded.path)
    importer.db.execute("BEGIN IMMEDIATE")  # the import holds the write lock, its rows not yet visible
    importer.save_session(grown)
    judge_store_db = Store(seeded.path)
    worker = threading.Thread(target=judge_store, args=(judge_store_db, load_config()), kwargs={"session_ids": [sid]})
    worker.start()
    time.sleep(1.0)  # the judge has read and scored the old content and waits for the write lock
    importer.db.execute("COMMIT")
    worker.join(60)
    importer.close()
    judge_store_db.close()
    scored_turns = {r["turn_idx"] for r in seeded.scores(sid, "heuristic")}
    assert scored_turns == {-1, *range(len(grown.turns))}, "the scores judged content the store no longer has"
    assert sid not in seeded.unscored_session_ids()


def test_two_workers_store_the_same_scores_as_one_process(seeded: Store) -> None:
    def stored() -> list[tuple]:
        return [(r["session_id"], r["turn_idx"], r["total"], r["tier"], json.dumps(r["metrics"], sort_keys=True))
                for sid in seeded.all_session_ids() for r in seeded.scores(sid, "heuristic")]

    one = json.loads(invoke("judge", "--json"))
    first = stored()
    two = json.loads(invoke("judge", "--rescore", "--workers", "2", "--json"))
    assert (one.pop("engine"), two.pop("engine")) == ({"engine": "local", "workers": 1},
                                                      {"engine": "local", "workers": 2})
    assert two == one and stored() == first and len(first) > 6


def test_explain_shows_metrics_with_step_evidence(seeded: Store) -> None:
    invoke("judge")
    out = invoke("judge", "explain", "calib-b01:0")
    assert "failed" in out and "tests" in out and "cap: tests=0.00" in out
    assert "2: Bash `pytest -q` → exit 1" in out.replace("\n", " ") or "2: Bash" in out
    data = json.loads(invoke("judge", "explain", "calib-b01:0", "--json"))
    assert data["tier"] == "failed" and data["metrics"]["tests"]["evidence"][0]["step"] == 2
    session_level = invoke("judge", "explain", "calib-g01")
    assert "turns: 0=gold" in session_level


def test_explain_scores_an_unjudged_session_on_the_fly(seeded: Store) -> None:
    data = json.loads(invoke("judge", "explain", "calib-g02", "--json"))
    assert data["tier"] == "gold"


def test_report_counts_tiers_and_writes_a_histogram(seeded: Store, tmp_path: Path) -> None:
    invoke("judge")
    png = tmp_path / "hist.png"
    out = invoke("judge", "report", "--out", str(png))
    assert "sessions: 6 scored" in out and "gold 3" in out and "failed:" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(invoke("judge", "report", "--json", "--out", str(png)))
    assert data["turns"]["tiers"]["failed"] >= 3 and "tests" in data["drivers"]["failed"]


def test_label_is_kept_apart_and_wins(seeded: Store) -> None:
    invoke("judge")
    out = invoke("label", "calib-b01:0", "good", "--note", "the failure is the point of this example")
    assert "labelled calib-b01:0 good" in out
    invoke("label", "calib-g01", "tier=bronze")
    judged = session_judgement(seeded, "calib-b01")
    turn0 = judged["turns"][0]
    assert turn0["tier"] == "failed" and turn0["effective_tier"] == "gold"
    assert turn0["label"]["note"] == "the failure is the point of this example"
    assert set(turn0["metrics"]) >= {"tests", "completion"} and isinstance(turn0["metrics"]["tests"], float)
    assert session_judgement(seeded, "calib-g01")["effective_tier"] == "bronze"


@pytest.mark.parametrize(
    ("args", "message"),
    [(("label", "calib-g01", "tier=platinum"), "tier: got 'platinum', expected one of gold, silver, bronze, failed"),
     (("label", "calib-g01", "goood"), 'did you mean "good"'),
     (("label", "calib-g01:9", "bad"), "has no turn 9"),
     (("label", "nope", "bad"), "no session with id 'nope'")],
)
def test_label_rejects_bad_input(seeded: Store, args: tuple[str, ...], message: str) -> None:
    from bashgym.errors import BashgymError

    with pytest.raises(BashgymError, match=message.replace("(", r"\(")):
        runner.invoke(app, list(args), catch_exceptions=False)


def test_judge_config_init_writes_an_editable_file(isolated_home: Path, seeded: Store) -> None:
    assert "wrote" in invoke("judge", "config", "--init")
    path = isolated_home / ".bashgym" / "judge.yaml"
    path.write_text("tiers: {gold: 0.999, silver: 0.998, bronze: 0.997}\n")
    assert "gold: 0.999" in invoke("judge", "config")
    out = json.loads(invoke("judge", "--rescore", "--json"))
    assert out["session_tiers"].get("gold", 0) <= 3


def test_session_judgement_of_an_unscored_session(seeded: Store) -> None:
    judged = session_judgement(seeded, "calib-g01")
    assert judged["score"] is None and judged["tier"] is None and judged["turns"] == {}


def test_every_judge_command_has_help() -> None:
    for args in (["judge"], ["judge", "explain"], ["judge", "report"], ["judge", "config"], ["verify"], ["label"]):
        out = invoke(*args, "--help")
        assert "Example" in out


def _listed(*args: str) -> list[dict]:
    return json.loads(invoke("sessions", "list", "--json", *args))


def test_sessions_list_filters_by_score_and_sorts_tiers_by_rank(seeded: Store) -> None:
    with seeded.transaction():  # the ambiguous cases land in the middle tiers
        for c in calibration_cases():
            if c["label"] == "ambiguous":
                seeded.save_session(Session.from_dict(c["session"]))
    invoke("judge")
    everything = _listed()
    assert {"gold", "failed"} < {r["tier"] for r in everything}  # silver or bronze too
    good = _listed("--min-score", "0.9")
    assert good and all(r["score"] >= 0.9 for r in good)
    assert {r["id"] for r in good} == {r["id"] for r in everything if r["score"] >= 0.9}
    bad = _listed("--max-score", "0.59")
    assert bad and all(r["score"] <= 0.59 for r in bad)
    assert {r["id"] for r in bad} == {r["id"] for r in everything if r["score"] <= 0.59}
    rank = {"gold": 4, "silver": 3, "bronze": 2, "failed": 1}
    by_tier = [(rank[r["tier"]], r["score"]) for r in _listed("--sort", "tier")]
    assert by_tier == sorted(by_tier, reverse=True)  # gold first, not alphabetical (silver > gold > failed)
    assert [r["tier"] for r in _listed("--sort", "tier", "--asc")][0] == "failed"


@pytest.mark.parametrize(("args", "message"), [
    (("--tier", "gld"), '--tier: got \'gld\', expected one of gold, silver, bronze, failed (did you mean "gold"?)'),
    (("--source", "claude"), '--source: got \'claude\', expected one of claude_code, '),
    (("--source", "claude"), '(did you mean "claude_code"?)'),
    (("--since", "yesterday"), "--since: got 'yesterday', expected a date: YYYY-MM-DD or an ISO time"),
    (("--until", "11/25/2026"), "--until: got '11/25/2026', expected a date"),
])
def test_sessions_list_refuses_a_filter_that_would_silently_match_nothing(
    seeded: Store, args: tuple[str, ...], message: str,
) -> None:
    result = runner.invoke(app, ["sessions", "list", *args])
    assert result.exit_code != 0
    assert message in str(result.exception)


def test_sessions_list_tier_is_the_label_tier_when_there_is_one(seeded: Store) -> None:
    """CLI, UI and factory agree: a human label's tier wins over the judge's, in filters, sorts and stats."""
    invoke("judge")
    judged_gold = {r["id"] for r in _listed("--tier", "gold")}
    assert "calib-g01" in judged_gold
    invoke("label", "calib-g01", "tier=failed")
    assert "calib-g01" not in {r["id"] for r in _listed("--tier", "gold")}
    row = next(r for r in _listed("--tier", "failed") if r["id"] == "calib-g01")
    assert row["tier"] == "failed" and row["judged_tier"] == "gold" and row["label_tier"] == "failed"
    ascending = _listed("--sort", "tier", "--asc")  # its top score does not lift it out of the failed tier
    upto = [r["id"] for r in ascending].index("calib-g01")
    assert all(r["tier"] == "failed" for r in ascending[: upto + 1]) and ascending[upto + 1]["tier"] != "failed"
    stats = json.loads(invoke("sessions", "stats", "--json"))
    assert stats["by_tier"]["gold"] == len(judged_gold) - 1
    table = invoke("sessions", "list", "--tier", "failed")
    assert "failed*" in table and "* tier set by a label" in table
