"""End to end with the real mini-swe-agent (PyPI `mini-swe-agent`, pinned in the `dev` extra), headless,
against a scripted chat-completions server on 127.0.0.1: `mini` runs the bash commands the script gives it
(one of them edits a file, one fails), writes its trajectory, and `bashgym import mini-swe-agent` stores
exactly those prompts, commands, outputs, exit codes and the edit.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.mini_swe_agent_cli import config_dir, mini_bin, run_mini  # noqa: E402
from harness.openai_server import ScriptedOpenAIServer, assistant_turns  # noqa: E402

pytestmark = pytest.mark.slow
runner = CliRunner()

MODEL = "scripted-coder-1"
TASK = '[MS1] How many lines does "notes.txt" have? Then replace the TODO with a greeting.'
EDIT = "sed -i 's/TODO: greet/Hello from bashgym/' notes.txt"
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
# (what the model says, the command it runs, the call id)
STEPS = [
    ("Counting the lines first.", "wc -l notes.txt", "call_wc"),
    ("Now the greeting.", EDIT, "call_edit"),
    ("Checking both files.", "cat notes.txt missing.txt", "call_cat"),
    ("Done: notes.txt had 2 lines and now greets.", SUBMIT, "call_submit"),
]
RECORDED_VERSION = "2.4.6"


def reply(body: dict) -> dict:
    text, command, call_id = STEPS[assistant_turns(body)]
    return {"content": text, "tool_calls": [{"id": call_id, "type": "function", "function": {
        "name": "bash", "arguments": json.dumps({"command": command})}}]}


def test_real_mini_swe_agent_trajectory_imports_task_commands_outputs_and_edit(isolated_home: Path,
                                                                              tmp_path: Path) -> None:
    mini = mini_bin()
    assert mini is not None, "mini-swe-agent is required: pip install -e '.[dev]'"
    home, work = tmp_path / "mini-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    with ScriptedOpenAIServer(reply) as server:
        result = run_mini(mini, TASK, home=home, cwd=work, base_url=server.url, model=MODEL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # The agent really ran the commands, and asked the scripted server (only) once per step.
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert len(server.requests) == len(STEPS)
    assert all(b["model"] == MODEL and [t["function"]["name"] for t in b["tools"]] == ["bash"]
               for b in server.requests)
    sent = [m for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in sent] == ["call_wc"] and "2 notes.txt" in sent[0]["content"]

    trajectory = config_dir(home) / "last_mini_run.traj.json"
    assert trajectory.is_file()
    imported = runner.invoke(app, ["import", "mini-swe-agent", str(config_dir(home)), "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.output)
    assert (report["sessions"], report["errors"]) == (1, [])
    again = runner.invoke(app, ["import", "mini-swe-agent", str(config_dir(home)), "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["sessions"] == 0

    with Store.open() as store:
        [summary] = store.list_sessions(source="mini_swe_agent")
        session = store.get_session(summary["id"])
    version = importlib.metadata.version("mini-swe-agent")
    assert version == RECORDED_VERSION == session.agent_version
    assert session.models == [f"openai/{MODEL}"]
    assert session.meta["exit_status"] == "Submitted"
    [turn] = session.turns
    assert turn.prompt == TASK
    assert turn.steps[0].role == "user" and turn.steps[0].text == TASK
    assert TASK in turn.steps[0].meta["rendered"]  # what the model saw: the task inside mini.yaml's template
    said = [s.text for s in turn.steps if s.kind == "message" and s.role == "assistant"]
    assert said == [text for text, _, _ in STEPS]
    calls = turn.tool_calls
    assert [(c.tool_name, c.call_id, c.input) for c in calls] == [
        ("bash", call_id, {"command": command}) for _, command, call_id in STEPS]
    wc, edit, cat, submit = calls
    assert (wc.output, wc.exit_code, wc.is_error) == ("2 notes.txt\n", 0, False)
    assert (edit.input["command"], edit.output, edit.exit_code) == (EDIT, "", 0)
    assert cat.output == "line one\nHello from bashgym\ncat: missing.txt: No such file or directory\n"
    assert (cat.exit_code, cat.is_error) == (1, True)
    # Submitting ends the run from inside the command: mini records it as not executed, and so does bashgym.
    assert (submit.output, submit.exit_code, submit.is_error, submit.meta["not_executed"]) == ("", None, False, True)
    assert all(c.model == f"openai/{MODEL}" for c in calls)
    # The scripted server reports 100 prompt and 10 completion tokens per call.
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (100 * len(STEPS), 10 * len(STEPS))
    assert session.usage == turn.usage
