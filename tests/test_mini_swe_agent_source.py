"""`bashgym import mini-swe-agent` on the trajectory the real agent recorded (tests/fixtures/mini_swe_agent, made by
tests/harness/make_mini_swe_agent_fixtures.py), and on files that are not trajectories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.sources.mini_swe_agent import parse_trajectory, task_from_instance
from bashgym.store import Store

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "mini_swe_agent"
TASK = '[MS1] How many lines does "notes.txt" have? Then replace the TODO with a greeting.'


def test_recorded_trajectory_imports_task_commands_exit_codes_and_the_edit(isolated_home: Path) -> None:
    result = runner.invoke(app, ["import", "mini-swe-agent", str(FIXTURE), "--json"])
    assert result.exit_code == 0, result.output
    assert (json.loads(result.output)["sessions"], json.loads(result.output)["errors"]) == (1, [])
    with Store.open() as store:
        [summary] = store.list_sessions(source="mini_swe_agent")
        session = store.get_session(summary["id"])
    assert session.agent_version == "2.4.6" and session.meta["exit_status"] == "Submitted"
    [turn] = session.turns
    assert turn.prompt == TASK
    commands = [(c.input["command"], c.exit_code) for c in turn.tool_calls]
    assert commands == [("wc -l notes.txt", 0), ("sed -i 's/TODO: greet/Hello from bashgym/' notes.txt", 0),
                        ("cat notes.txt missing.txt", 1), ("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", None)]
    assert turn.tool_calls[2].is_error and "Hello from bashgym" in turn.tool_calls[2].output
    assert turn.tool_calls[3].meta["not_executed"] and not turn.tool_calls[3].is_error
    assert turn.steps[-1].role == "system" and turn.steps[-1].meta["exit_status"] == "Submitted"


def test_a_rerun_into_the_same_file_is_a_new_session_and_a_grown_one_keeps_its_id(tmp_path: Path) -> None:
    doc = json.loads((FIXTURE / "last_mini_run.traj.json").read_text())
    path = str(tmp_path / "last_mini_run.traj.json")
    [whole] = parse_trajectory(path, json.dumps(doc).encode()).sessions
    grown = dict(doc, messages=doc["messages"][:4])
    assert parse_trajectory(path, json.dumps(grown).encode()).sessions[0].id == whole.id
    other = json.loads(json.dumps(doc))
    for m in other["messages"]:
        if m.get("role") == "assistant":
            m["extra"]["response"]["id"] = "chatcmpl-another-run"
    assert parse_trajectory(path, json.dumps(other).encode()).sessions[0].id != whole.id


def test_a_file_that_is_not_a_trajectory_is_reported_by_name_and_nothing_is_stored(tmp_path: Path,
                                                                                  isolated_home: Path) -> None:
    shutil.copy(FIXTURE / "last_mini_run.traj.json", tmp_path / "good.traj.json")
    (tmp_path / "bad.traj.json").write_text('{"instance_id": "x"}')
    (tmp_path / "broken.traj.json").write_text('{"messages": [')
    result = runner.invoke(app, ["import", "mini-swe-agent", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sessions"] == 1
    text = json.dumps(report)
    assert "bad.traj.json" in text and "not a mini-swe-agent trajectory" in text and "instance_id" in text
    assert "broken.traj.json" in text and "invalid JSON" in text


def test_task_is_cut_out_of_the_rendered_template_only_where_the_template_shows_it() -> None:
    template = "Please solve this issue: {{task}}\n\nYou can run {{system}} commands."
    assert task_from_instance("Please solve this issue: fix it\n\nYou can run Linux commands.", template) == "fix it"
    assert task_from_instance("Solve: fix it", "Solve: {{ task | trim }}") == "Solve: fix it"
    assert task_from_instance("anything", None) == "anything"


def test_the_judge_scores_a_recorded_trajectory_and_cites_the_failing_command(isolated_home: Path) -> None:
    assert runner.invoke(app, ["import", "mini-swe-agent", str(FIXTURE)]).exit_code == 0
    judged = runner.invoke(app, ["judge", "--json"])
    assert judged.exit_code == 0, judged.output
    assert json.loads(judged.output)["sessions"] == 1
    with Store.open() as store:
        [summary] = store.list_sessions(source="mini_swe_agent")
    assert summary["tier"] in ("gold", "silver", "bronze", "failed") and summary["score"] is not None
    explained = runner.invoke(app, ["judge", "explain", f"{summary['id']}:0", "--json"])
    assert explained.exit_code == 0, explained.output
    tool_success = json.loads(explained.output)["metrics"]["tool_success"]
    assert (tool_success["value"], tool_success["note"]) == (0.75, "1 of 4 tool calls failed")
    assert "bash `cat notes.txt missing.txt` → exit 1" in tool_success["evidence"][0]["text"]
