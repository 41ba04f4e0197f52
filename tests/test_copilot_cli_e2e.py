"""End to end with the real GitHub Copilot CLI (npm `@github/copilot` 1.0.x), headless and offline with a
bring-your-own-key provider (no GitHub account) against a scripted streaming chat-completions server on
127.0.0.1: the CLI reasons, runs shell commands, views, edits and creates files as the script tells it, is
resumed for a second prompt and a third that a subagent answers, records the session under `~/.copilot/session-state/<id>/events.jsonl`, and
`bashgym import copilot <dir>` then stores it. The same scenario's recording is committed in
tests/fixtures/copilot/ (`python tests/harness/make_copilot_fixtures.py tests/fixtures/copilot`), so the parser
is checked against what the real CLI writes even where npm is missing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.schema import shell_command  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.copilot_cli import copilot_bin, copilot_sessions, run_copilot  # noqa: E402
from harness.make_copilot_fixtures import (  # noqa: E402
    CAT,
    DELEGATE,
    FINAL,
    FINAL_2,
    FINAL_3,
    FOLLOWUP,
    MODEL,
    PROMPT,
    SUB_FINAL,
    SUB_PROMPT,
    SUB_USAGES,
    THOUGHT,
    TURNS,
    USAGES,
    run_scenario,
)
from harness.npm_tools import COPILOT_PACKAGE, locked_version  # noqa: E402

runner = CliRunner()
RECORDED = Path(__file__).parent / "fixtures" / "copilot"


def import_copilot(root: Path) -> dict:
    result = runner.invoke(app, ["import", "copilot", str(root), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fingerprints(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def usage_of(steps: list[tuple[int, int, int, int]]) -> dict[str, int]:
    """bashgym's usage for these scripted steps: Copilot's inputTokens include the cache reads; bashgym's input
    leaves them out; output includes the reasoning tokens."""
    cached = sum(u[2] for u in steps)
    return {"input_tokens": sum(u[0] for u in steps) - cached, "output_tokens": sum(u[1] for u in steps),
            "cache_read_tokens": cached, "cache_creation_tokens": 0}


def check_copilot_session(session, subagent, work: str) -> None:
    """The steps the scripted scenario (harness/make_copilot_fixtures.py) makes the real CLI record: the
    session, and the subagent its third prompt ran as a session of its own."""
    assert (session.source, session.cwd, session.project) == ("copilot", work, work)
    assert session.models == [MODEL] and session.parent_id is None
    assert session.agent_version == locked_version(COPILOT_PACKAGE)
    assert session.meta["code_changes"]["filesModified"] == [f"{work}/notes.txt", f"{work}/hello.txt"]
    first, second, third = session.turns
    assert (first.prompt, second.prompt, third.prompt) == (PROMPT, FOLLOWUP, DELEGATE)
    assert session.started_at <= first.started_at <= first.ended_at <= second.started_at <= session.ended_at

    user, thought, wc, view, edit, create, cat, final = first.steps
    assert (user.role, user.text) == ("user", PROMPT)
    assert (thought.role, thought.text, thought.thinking, thought.model) == ("assistant", "", THOUGHT, MODEL)
    assert thought.meta["message_id"] == wc.meta["message_id"] != view.meta["message_id"]
    assert [c.call_id for c in first.tool_calls] == ["call_wc", "call_view", "call_edit", "call_create", "call_cat"]
    assert (shell_command(wc), wc.output, wc.exit_code, wc.is_error) == ("wc -l notes.txt", "2 notes.txt\n", 0, False)
    assert wc.input["description"] == "Count the lines" and wc.duration_ms is not None
    assert (view.tool_name, view.output, view.exit_code) == ("view", "line one\nTODO: greet\n", None)
    assert "file_diff" not in view.meta

    assert edit.input == {"path": f"{work}/notes.txt", "old_str": "TODO: greet", "new_str": "Hello from bashgym"}
    assert edit.output == f"File {work}/notes.txt updated with changes." and not edit.is_error
    assert edit.meta["file_diff"].startswith(f"diff --git a{work}/notes.txt b{work}/notes.txt\n")
    assert "-TODO: greet\n+Hello from bashgym\n" in edit.meta["file_diff"]
    assert edit.meta["file_edits"] == [{"path": f"{work}/notes.txt", "kind": "edit"}]
    assert create.input == {"path": f"{work}/hello.txt", "file_text": "hi\n"}
    assert create.output == f"Created file {work}/hello.txt with 3 characters"
    assert create.meta["file_diff"].endswith("@@ -1,0 +1,1 @@\n+hi\n")

    # Copilot says the call succeeded (the tool ran); the shell's own exit code says the command failed.
    assert shell_command(cat) == CAT
    assert cat.output == "line one\nHello from bashgym\nhi\ncat: missing.txt: No such file or directory\n"
    assert (cat.exit_code, cat.is_error) == (1, True)
    assert (final.role, final.text, final.model) == ("assistant", FINAL, MODEL)

    user_2, head, final_2 = second.steps
    assert (user_2.text, shell_command(head), head.output, head.exit_code) == (
        FOLLOWUP, "head -n 2 notes.txt", "line one\nHello from bashgym\n", 0)
    assert final_2.text == FINAL_2
    assert not any(s.meta.get("no_result") or s.meta.get("orphan_result") for s in session.steps)

    # The subagent's events sit in the same file: they make a child session, named by the task call.
    user_3, task, final_3 = third.steps
    assert (task.tool_name, task.input["prompt"], task.output, final_3.text) == ("task", SUB_PROMPT, SUB_FINAL,
                                                                                 FINAL_3)
    assert task.meta["subagent_session_id"] == subagent.id and task.meta["subagent_type"] == "task"
    assert (subagent.parent_id, subagent.source, subagent.cwd, subagent.title) == (session.id, "copilot", work,
                                                                                   "counter")
    [sub_turn] = subagent.turns
    sub_user, sub_wc, sub_final = sub_turn.steps
    assert sub_turn.prompt == sub_user.text == SUB_PROMPT and sub_user.meta["source"] == f"agent-{session.id}"
    assert (shell_command(sub_wc), sub_wc.output, sub_wc.exit_code) == ("wc -l hello.txt", "1 hello.txt\n", 0)
    assert sub_final.text == SUB_FINAL and subagent.models == [MODEL]

    for turn, steps in zip(session.turns, TURNS, strict=True):
        assert turn.usage.to_dict() == usage_of(USAGES[steps])
    assert session.usage.to_dict() == usage_of(USAGES)  # the subagent's calls are its own session's
    assert subagent.usage.to_dict() == sub_turn.usage.to_dict() == usage_of(SUB_USAGES)


def sessions_of(store: Store, session_id: str) -> tuple:
    """The session and the one subagent session it ran."""
    [child] = [s for s in store.list_sessions(source="copilot") if s["id"] != session_id]
    return store.get_session(session_id), store.get_session(child["id"])


def test_recorded_copilot_session_imports_prompts_reasoning_tools_edits_model_and_usage(isolated_home: Path) -> None:
    [events] = sorted(RECORDED.rglob("events.jsonl"))
    start = json.loads(events.read_text().splitlines()[0])["data"]
    report = import_copilot(RECORDED)
    assert (report["sessions"], report["skipped_lines"], report["errors"]) == (2, 0, [])
    with Store.open() as store:
        check_copilot_session(*sessions_of(store, start["sessionId"]), start["context"]["cwd"])
    assert import_copilot(RECORDED)["sessions"] == 0


def test_a_rewind_withdraws_the_turn_it_names(isolated_home: Path, tmp_path: Path) -> None:
    """`/rewind` (interactive only) appends a session.snapshot_rewind naming the first withdrawn event; the
    events stay in the file, the session no longer has them."""
    [events] = sorted(RECORDED.rglob("events.jsonl"))
    lines = events.read_text().splitlines()
    second = next(json.loads(x) for x in lines if FOLLOWUP in x and '"user.message"' in x)
    rewind = {"type": "session.snapshot_rewind", "data": {"upToEventId": second["id"], "eventsRemoved": 40},
              "id": "rewind-1", "timestamp": "2099-01-01T00:00:00.000Z", "parentId": None}
    copy = tmp_path / "s" / events.parent.name / "events.jsonl"
    copy.parent.mkdir(parents=True)
    copy.write_text("\n".join([*lines, json.dumps(rewind)]) + "\n")
    assert import_copilot(tmp_path / "s")["errors"] == []
    with Store.open() as store:
        session = store.get_session(json.loads(lines[0])["data"]["sessionId"])
    assert [t.prompt for t in session.turns] == [PROMPT]
    assert session.usage.to_dict() == usage_of(USAGES[TURNS[0]])


def test_a_line_that_is_not_a_copilot_event_is_reported_by_its_line(isolated_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "s" / "x" / "events.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"type": "user.message"}\n{broken\n')
    report = import_copilot(tmp_path / "s")
    assert report["sessions"] == 0
    errors = sorted((e["line"], e["error"]) for e in report["errors"])
    assert [n for n, _ in errors] == [1, 2]
    assert errors[0][1].startswith("not a Copilot CLI session event") and errors[1][1].startswith("invalid JSON")


def test_import_all_and_the_source_list_include_copilot(isolated_home: Path) -> None:
    shutil.copytree(RECORDED, isolated_home / ".copilot" / "session-state")
    listed = runner.invoke(app, ["import"])
    assert listed.exit_code == 0 and "│ copilot " in listed.output
    result = runner.invoke(app, ["import", "all", "--json"])
    assert result.exit_code == 0, result.output
    [copilot] = [s for s in json.loads(result.output)["sources"] if s["source"] == "copilot"]
    assert (copilot["root"], copilot["sessions"], copilot["errors"]) == (
        str(isolated_home / ".copilot" / "session-state"), 2, [])


@pytest.mark.slow
def test_real_copilot_cli_session_imports_prompts_reasoning_tools_edits_model_and_usage(isolated_home: Path,
                                                                                       tmp_path: Path) -> None:
    copilot = copilot_bin()  # checks `copilot --version` against the lock
    assert copilot is not None, "npm is required: the test installs the GitHub Copilot CLI"
    home, work = tmp_path / "copilot-home", tmp_path / "work"
    home.mkdir()
    outputs, server = run_scenario(copilot, home, work)

    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert (work / "hello.txt").read_text() == "hi\n"
    # Offline with its own provider: nothing but the scripted chat completions, no GitHub endpoint.
    assert {(r["method"], r["path"]) for r in server.requests} == {("POST", "/v1/chat/completions")}
    assert len(server.requests) == len(USAGES) + len(SUB_USAGES)
    assert {r["body"]["model"] for r in server.requests} == {MODEL}
    assert len({out[-1]["sessionId"] for out in outputs}) == 1 and all(out[-1]["exitCode"] == 0 for out in outputs)
    first_id = outputs[0][-1]["sessionId"]

    root = copilot_sessions(home)
    before = fingerprints(root)
    report = import_copilot(root)
    assert (report["files_read"], report["sessions"], report["skipped_lines"], report["errors"]) == (1, 2, 0, [])
    assert import_copilot(root)["sessions"] == 0
    assert fingerprints(root) == before
    with Store.open() as store:
        check_copilot_session(*sessions_of(store, first_id), str(work))


@pytest.mark.slow
def test_anthropic_provider_usage_counts_each_token_once(isolated_home: Path, tmp_path: Path) -> None:
    """With the `anthropic` provider Copilot sums input, cache reads and cache writes into inputTokens (OpenAI's
    prompt_tokens already hold the reads): bashgym's input is what is left, each token counted once."""
    from harness.anthropic_server import ScriptedAnthropicServer, text

    copilot = copilot_bin()
    assert copilot is not None, "npm is required: the test installs the GitHub Copilot CLI"
    home, work = tmp_path / "copilot-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    sent = {"input_tokens": 120, "output_tokens": 1, "cache_read_input_tokens": 200, "cache_creation_input_tokens": 50}
    with ScriptedAnthropicServer({"[AN1]": [[text("hello")]]}, usage=sent) as server:
        result = run_copilot(copilot, "[AN1] Say hello.", home=home, cwd=work, base_url=server.url, model="claude-x",
                             extra_env={"COPILOT_PROVIDER_TYPE": "anthropic"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert import_copilot(copilot_sessions(home))["sessions"] == 1
    with Store.open() as store:
        [summary] = store.list_sessions(source="copilot")
        session = store.get_session(summary["id"])
    assert session.usage.to_dict() == {"input_tokens": 120, "output_tokens": 30, "cache_read_tokens": 200,
                                       "cache_creation_tokens": 50}
    assert session.turns[0].steps[-1].text == "hello"
