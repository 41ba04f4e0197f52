"""End to end with the real OpenHands CLI (PyPI `openhands`, pinned with its dependencies in
tests/harness/openhands-requirements.txt and installed into its own Python 3.12 venv), headless in a temporary
HOME, no Docker, against a scripted chat-completions server on 127.0.0.1: the agent counts lines in the terminal
(with reasoning), edits a file with file_editor, runs a command that fails, and finishes. `bashgym import
openhands` then stores exactly that prompt, the commands, outputs, exit codes, the edit as a diff, the model and
the token usage. The recorded fixture (harness/make_openhands_fixtures.py) adds a second prompt resuming the
conversation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.openai_server import ScriptedOpenAIServer  # noqa: E402
from harness.openhands_cli import openhands_bin, run_openhands  # noqa: E402

pytestmark = pytest.mark.slow
runner = CliRunner()

MODEL = "openai/scripted-coder-1"
PROMPT = "[OH1] Replace the TODO in notes.txt with a greeting, then check the file."
FOLLOW_UP = "[OH2] Show me the file."
SAID = "I'll count the lines first."
REASONING = "The user wants the TODO replaced; count the lines, then edit."
FINISH = "Replaced the TODO with a greeting in notes.txt."
LAST = "notes.txt now greets."
START = {"notes.txt": "line one\nTODO: greet\n"}


def _call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def _since_prompt(body: dict[str, Any]) -> tuple[str, int]:
    """(the last user prompt's text, assistant messages after it)."""
    last, after = "", 0
    for m in body["messages"]:
        if m["role"] == "user":
            content = m.get("content")
            last = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or [])
            after = 0
        elif m["role"] == "assistant":
            after += 1
    return last, after


def reply(body: dict[str, Any], work: Path) -> dict[str, Any]:
    """The scripted model: for the task a terminal command (with reasoning), a file_editor edit, a failing
    command, finish; for the follow-up one command, then a plain answer."""
    prompt, n = _since_prompt(body)
    risk = {"security_risk": "LOW"}
    if "[OH2]" in prompt:
        if n == 0:
            return {"content": None, "tool_calls": [_call("terminal", {"command": "cat notes.txt", **risk,
                                                                        "summary": "show the file"}, "call_cat")]}
        return {"content": LAST}
    script = [
        {"content": SAID, "reasoning_content": REASONING,
         "tool_calls": [_call("terminal", {"command": "wc -l notes.txt", **risk, "summary": "count lines"}, "call_wc")]},
        {"content": None, "tool_calls": [_call("file_editor", {
            "command": "str_replace", "path": str(work / "notes.txt"), "old_str": "TODO: greet",
            "new_str": "Hello from bashgym", **risk, "summary": "greet"}, "call_edit")]},
        {"content": None, "tool_calls": [_call("terminal", {"command": "ls missing.txt", **risk,
                                                            "summary": "look for a file"}, "call_ls")]},
        {"content": None, "tool_calls": [_call("finish", {"message": FINISH}, "call_finish")]},
    ]
    return script[min(n, len(script) - 1)]


def record(openhands: Path, home: Path, work: Path, *, follow_up: bool = True) -> ScriptedOpenAIServer:
    """Run the scenario: the task, then (with `follow_up`) the second prompt resuming the same conversation."""
    work.mkdir(parents=True, exist_ok=True)
    for name, text in START.items():
        (work / name).write_text(text)
    with ScriptedOpenAIServer(lambda body: reply(body, work)) as server:
        first = run_openhands(openhands, PROMPT, home=home, cwd=work, base_url=server.url, model=MODEL)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        if follow_up:
            [conversation] = list((home / ".openhands" / "conversations").iterdir())
            second = run_openhands(openhands, FOLLOW_UP, home=home, cwd=work, base_url=server.url, model=MODEL,
                                   resume=conversation.name)
            assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return server


def test_real_openhands_conversation_imports_prompt_commands_edit_and_usage(isolated_home: Path,
                                                                           tmp_path: Path) -> None:
    # One start of the CLI (~25 s of CPU for its imports alone); the resumed second prompt is in the recorded
    # fixture (tests/fixtures/openhands, same scenario), which tests/test_openhands_source.py reads.
    openhands = openhands_bin()
    home, work = tmp_path / "oh-home", tmp_path / "work"
    home.mkdir()
    server = record(openhands, home, work, follow_up=False)

    # The agent really ran the commands and edited the file, all against the scripted server.
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert len(server.requests) == 4 and all(b["model"] == "scripted-coder-1" for b in server.requests)
    [conversation] = list((home / ".openhands" / "conversations").iterdir())

    imported = runner.invoke(app, ["import", "openhands", str(home / ".openhands"), "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.output)
    assert (report["sessions"], report["errors"], report["failed_files"]) == (1, [], [])
    again = runner.invoke(app, ["import", "openhands", str(home / ".openhands"), "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["sessions"] == 0

    with Store.open() as store:
        [row] = store.list_sessions(source="openhands")
        session = store.get_session(row["id"])
    assert session.id == f"openhands-{conversation.name}"
    assert session.models == [MODEL] and session.cwd == str(work)
    assert session.started_at and session.ended_at and session.started_at < session.ended_at
    [task] = session.turns
    assert task.prompt == PROMPT and task.steps[0].text == PROMPT
    check_task_turn(task, work)
    # The scripted server reports 100 prompt and 10 completion tokens per call: 4 calls.
    assert (session.usage.input_tokens, session.usage.output_tokens) == (400, 40)


def check_task_turn(task: Any, work: Path) -> None:
    """What the task turn holds, from the live run or the recorded fixture alike."""
    [said] = [s for s in task.steps if s.kind == "message" and s.role == "assistant"]
    assert (said.text, said.thinking) == (SAID, REASONING)
    wc, edit, ls, finish = task.tool_calls
    assert (wc.tool_name, wc.input["command"], wc.output, wc.exit_code, wc.is_error) == (
        "terminal", "wc -l notes.txt", "2 notes.txt", 0, False)
    assert wc.call_id == "call_wc" and wc.meta["message_id"] == said.meta["message_id"]
    assert (edit.tool_name, edit.input["old_str"], edit.input["new_str"], edit.is_error) == (
        "file_editor", "TODO: greet", "Hello from bashgym", False)
    assert edit.meta["diff"] == (f"--- a{work}/notes.txt\n+++ b{work}/notes.txt\n@@ -1,2 +1,2 @@\n line one\n"
                                 "-TODO: greet\n+Hello from bashgym\n")
    assert (ls.input["command"], ls.exit_code, ls.is_error) == ("ls missing.txt", 2, True)
    assert "No such file" in ls.output
    assert (finish.tool_name, finish.input, finish.output, finish.meta["final_answer"]) == (
        "finish", {"message": FINISH}, FINISH, True)
    assert (task.usage.input_tokens, task.usage.output_tokens) == (400, 40)
