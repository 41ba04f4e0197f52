"""The OpenHands parser and importer on the conversation the real OpenHands CLI 1.16.0 wrote
(tests/fixtures/openhands, recorded by tests/harness/make_openhands_fixtures.py: the scenario of
tests/test_openhands_cli_e2e.py plus a resumed second prompt), and on what that run does not produce: a
conversation still growing, a corrupt event file, a rejected call, a parallel pair of calls, a timed-out command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.sources.openhands import conversation_dirs, file_diff
from bashgym.sources.registry import get_source
from bashgym.store import Store
from test_openhands_cli_e2e import FOLLOW_UP, LAST, MODEL, PROMPT, check_task_turn

RECORDED = Path(__file__).parent / "fixtures" / "openhands"
[CONVERSATION] = list((RECORDED / "conversations").iterdir())
WORK = Path(json.loads((CONVERSATION / "base_state.json").read_text())["workspace"]["working_dir"])
runner = CliRunner()


def import_openhands(path: Path) -> dict:
    result = runner.invoke(app, ["import", "openhands", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def stored() -> list:
    with Store.open() as store:
        return [store.get_session(s["id"]) for s in store.list_sessions(source="openhands")]


def test_recorded_conversation_imports_both_prompts_commands_edit_reasoning_and_usage(isolated_home: Path) -> None:
    report = import_openhands(RECORDED)
    assert (report["sessions"], report["errors"], report["failed_files"]) == (1, [], [])
    [session] = stored()
    assert session.id == f"openhands-{CONVERSATION.name}" and session.source == "openhands"
    assert (session.cwd, session.project, session.models) == (str(WORK), str(WORK), [MODEL])
    assert session.agent_version is None  # OpenHands writes no version into a conversation's files
    assert session.meta["execution_status"] == "finished" and "terminal" in session.meta["tools"]
    assert session.meta["system_prompt"].startswith("You are OpenHands agent")
    task, follow = session.turns
    assert [task.prompt, follow.prompt] == [PROMPT, FOLLOW_UP]
    check_task_turn(task, WORK)
    [cat] = follow.tool_calls
    assert (cat.input["command"], cat.output, cat.exit_code) == ("cat notes.txt", "line one\nHello from bashgym", 0)
    assert (follow.steps[-1].role, follow.steps[-1].text) == ("assistant", LAST)
    assert (follow.usage.input_tokens, follow.usage.output_tokens) == (200, 20)
    assert (session.usage.input_tokens, session.usage.output_tokens) == (600, 60)
    # Times: events are ordered, each call's duration runs to its observation.
    assert session.started_at < task.started_at < follow.started_at <= session.ended_at
    assert all(c.duration_ms is not None and c.duration_ms >= 0 for c in task.tool_calls)
    assert import_openhands(RECORDED)["sessions"] == 0  # nothing changed: nothing re-read


@pytest.mark.parametrize("where", ["persistence dir", "conversations dir", "conversation dir", "event file"])
def test_discovery_takes_any_level_of_openhands_storage(where: str) -> None:
    root = {"persistence dir": RECORDED, "conversations dir": RECORDED / "conversations",
            "conversation dir": CONVERSATION, "event file": next((CONVERSATION / "events").glob("event-*.json"))}[where]
    assert conversation_dirs(root) == [CONVERSATION]


def test_default_root_follows_openhands_environment(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = get_source("openhands")
    assert source.default_root() == isolated_home / ".openhands" / "conversations"
    monkeypatch.setenv("OPENHANDS_PERSISTENCE_DIR", "/srv/oh")
    assert source.default_root() == Path("/srv/oh/conversations")
    monkeypatch.setenv("OPENHANDS_CONVERSATIONS_DIR", "/data/convs")
    assert source.default_root() == Path("/data/convs")


def _copy_events(target: Path, upto: int) -> None:
    """The recorded conversation as it stood after `upto` events (its final state file)."""
    (target / "events").mkdir(parents=True, exist_ok=True)
    shutil.copy(CONVERSATION / "base_state.json", target / "base_state.json")
    for event in sorted((CONVERSATION / "events").glob("event-*.json"))[:upto]:
        shutil.copy(event, target / "events" / event.name)


def test_a_growing_conversation_is_read_again_and_keeps_its_session_id(isolated_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "conversations" / CONVERSATION.name
    _copy_events(target, 10)  # the first prompt's run only
    assert import_openhands(tmp_path)["sessions"] == 1
    [first] = stored()
    assert [t.prompt for t in first.turns] == [PROMPT]
    _copy_events(target, 99)  # the resumed prompt's events arrive
    assert import_openhands(tmp_path)["sessions"] == 1
    [grown] = stored()
    assert grown.id == first.id and [t.prompt for t in grown.turns] == [PROMPT, FOLLOW_UP]
    again = runner.invoke(app, ["import", "openhands", "--rederive", "--json"])  # from the stored bundle alone
    assert again.exit_code == 0 and json.loads(again.output)["sessions"] == 1


def test_a_corrupt_event_file_is_reported_by_its_path_and_the_rest_imported(isolated_home: Path,
                                                                            tmp_path: Path) -> None:
    target = tmp_path / "conversations" / CONVERSATION.name
    _copy_events(target, 99)
    broken = sorted((target / "events").glob("event-*.json"))[5]
    broken.write_text('{"kind": "ObservationEvent", ')
    report = import_openhands(tmp_path)
    assert report["sessions"] == 1
    [error] = report["errors"]
    assert error["error"].startswith(f"{broken}: invalid JSON")
    [session] = stored()
    edit = session.turns[0].tool_calls[1]
    assert edit.tool_name == "file_editor" and edit.output is None and edit.meta["no_result"] is True


def test_a_directory_without_conversations_imports_nothing_and_a_missing_path_is_named(isolated_home: Path,
                                                                                      tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert import_openhands(tmp_path / "empty")["files"] == 0
    missing = runner.invoke(app, ["import", "openhands", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and f"no such file or directory: {tmp_path / 'nope'}" in str(missing.exception)


def test_import_all_and_the_source_list_include_openhands(isolated_home: Path) -> None:
    shutil.copytree(RECORDED / "conversations", isolated_home / ".openhands" / "conversations")
    listed = runner.invoke(app, ["import"])
    assert listed.exit_code == 0 and "│ openhands " in listed.output
    result = runner.invoke(app, ["import", "all", "--json"])
    assert result.exit_code == 0, result.output
    [found] = [s for s in json.loads(result.output)["sources"] if s["source"] == "openhands"]
    assert (found["root"], found["sessions"], found["errors"]) == (
        str(isolated_home / ".openhands" / "conversations"), 1, [])


def _event(n: int, kind: str, **fields: object) -> dict:
    return {"id": f"e{n}", "timestamp": f"2026-12-05T10:00:{n:02d}", "source": fields.pop("source", "agent"),
            "kind": kind, **fields}


def _action(n: int, call_id: str, command: str, response: str, thought: str = "") -> dict:
    args = {"command": command, "security_risk": "LOW"}
    return _event(n, "ActionEvent", thought=[{"type": "text", "text": thought}] if thought else [],
                  action={"command": command, "kind": "TerminalAction"}, tool_name="terminal",
                  tool_call_id=call_id, tool_call={"id": call_id, "name": "terminal", "arguments": json.dumps(args)},
                  llm_response_id=response)


def test_parallel_calls_rejections_timeouts_agent_errors_and_condensation(tmp_path: Path) -> None:
    """Shapes the scripted run does not make, written the way the SDK serialises them (openhands/sdk/event/)."""
    folder = tmp_path / "abc"
    (folder / "events").mkdir(parents=True)
    (folder / "base_state.json").write_text(json.dumps({"id": "abc", "agent": {"llm": {"model": "m"}}}))
    events = [
        _event(0, "MessageEvent", source="user", llm_message={"role": "user", "content": [{"type": "text",
                                                                                         "text": "go"}]}),
        _action(1, "c1", "sleep 999", "r1", thought="Two at once."),
        _action(2, "c2", "rm -rf /", "r1"),
        _event(3, "ObservationEvent", source="environment", tool_name="terminal", tool_call_id="c1", action_id="e1",
               observation={"kind": "TerminalObservation", "content": [{"type": "text", "text": ""}],
                            "exit_code": -1, "timeout": True, "is_error": False}),
        _event(4, "UserRejectObservation", source="environment", tool_name="terminal", tool_call_id="c2",
               action_id="e2", rejection_reason="too risky", rejection_source="hook"),
        _event(5, "ActionEvent", action=None, tool_name="file_editor", tool_call_id="c3",
               tool_call={"id": "c3", "name": "file_editor", "arguments": "{not json"}, llm_response_id="r2"),
        _event(6, "AgentErrorEvent", tool_name="file_editor", tool_call_id="c3", error="bad arguments"),
        _event(7, "ObservationEvent", source="environment", tool_name="file_editor", tool_call_id="c4",
               action_id="e9", observation={"kind": "FileEditorObservation", "command": "create", "path": "new.txt",
                                            "prev_exist": False, "old_content": None, "new_content": "hi\n",
                                            "content": [{"type": "text", "text": "created"}]}),
        _event(8, "Condensation", source="environment", summary="Earlier: created new.txt.",
               forgotten_event_ids=["e1", "e2"], llm_response_id="r3"),
        _event(9, "PauseEvent", source="user"),
    ]
    for n, event in enumerate(events):
        (folder / "events" / f"event-{n:05d}-{event['id']}.json").write_text(json.dumps(event))
    source = get_source("openhands")
    [bundle] = source.discover(folder)
    parsed = source.parse(str(bundle), [(1, bundle.read_bytes().rstrip(b"\n"))])
    assert parsed.errors == []
    [session] = parsed.sessions
    [turn] = session.turns
    timed_out, rejected, unparsed, orphan = turn.tool_calls
    # The two calls of one response share its message id; the thought comes once, before them.
    assert turn.steps[1].text == "Two at once." and turn.steps[1].meta["message_id"] == "r1"
    assert timed_out.meta["message_id"] == rejected.meta["message_id"] == "r1"
    assert (timed_out.exit_code, timed_out.is_error, timed_out.meta["timeout"]) == (None, True, True)
    assert (rejected.output, rejected.is_error, rejected.meta["rejected_by"]) == ("Action rejected: too risky",
                                                                                  True, "hook")
    assert (unparsed.input, unparsed.output, unparsed.is_error, unparsed.meta["not_parsed"]) == (
        "{not json", "bad arguments", True, True)
    assert orphan.meta["orphan_result"] is True and orphan.meta["created"] is True
    assert orphan.meta["diff"] == "--- a/new.txt\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n"
    # A condensation is a system step holding its summary; a pause adds nothing.
    last = turn.steps[-1]
    assert (last.role, last.text, last.meta["compaction"], last.meta["forgotten"]) == (
        "system", "Earlier: created new.txt.", True, 2)


def test_file_diff_marks_absolute_and_relative_paths() -> None:
    assert file_diff("/w/a.txt", "x\n", "x\n") == ""
    assert file_diff("a.txt", None, "y\n").startswith("--- a/a.txt\n+++ b/a.txt\n")
