"""End to end with the real Qwen Code CLI (npm `@qwen-code/qwen-code` 0.24.x, on the Node 22 the lock pins),
headless, against a scripted streaming chat-completions server on 127.0.0.1: the CLI reasons, runs shell
commands, reads, edits and writes files as the script tells it, records the chat under
`~/.qwen/projects/<project>/chats/`, is resumed for a second prompt, and `bashgym import qwen <dir>` then stores
it. The same scenario's recording is committed in tests/fixtures/qwen/
(`python tests/harness/make_qwen_fixtures.py tests/fixtures/qwen`), so the parser is checked against what the
real CLI writes even where npm is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.sources.qwen import QwenSource  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.make_qwen_fixtures import (  # noqa: E402
    CAT,
    FINAL,
    FINAL_2,
    FIRST_STEPS,
    FOLLOWUP,
    HEAD,
    MODEL,
    PROMPT,
    THOUGHT,
    USAGES,
    WC,
    run_scenario,
)
from harness.npm_tools import QWEN_PACKAGE, locked_version  # noqa: E402
from harness.qwen_cli import chats, qwen_command, qwen_projects  # noqa: E402

runner = CliRunner()
RECORDED = Path(__file__).parent / "fixtures" / "qwen"


def shell_output(command: str, output: str, code: int) -> re.Pattern[str]:
    """What run_shell_command answers the model in 0.24 (child_process, as `-p` runs it)."""
    return re.compile(re.escape(f"Command: {command}\nDirectory: (root)\nOutput: {output}\nError: (none)\n"
                                f"Exit Code: {code}\nSignal: (none)\nProcess Group PGID: ") + r"(\(none\)|\d+)")


def import_qwen(root: Path) -> dict:
    result = runner.invoke(app, ["import", "qwen", str(root), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fingerprints(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def recorded_chat() -> tuple[Path, list[dict]]:
    [chat] = sorted(RECORDED.rglob("chats/*.jsonl"))
    return chat, [json.loads(line) for line in chat.read_text().splitlines()]


def check_qwen_session(session, work: str) -> None:
    """The steps the scripted scenario (harness/make_qwen_fixtures.py) makes the real CLI record."""
    assert (session.source, session.cwd, session.project, session.title) == ("qwen", work, work, None)
    assert session.models == [MODEL] and session.parent_id is None
    assert session.agent_version == locked_version(QWEN_PACKAGE)
    assert [t.prompt for t in session.turns] == [PROMPT, FOLLOWUP]
    first, second = session.turns
    assert session.started_at == first.started_at <= first.ended_at < second.started_at <= second.ended_at
    assert second.ended_at == session.ended_at

    user, thought, wc, read, edit, write, cat, final = first.steps
    assert (user.role, user.text) == ("user", PROMPT)
    assert (thought.role, thought.text, thought.thinking, thought.model) == ("assistant", "", THOUGHT, MODEL)
    assert thought.meta["message_id"] == wc.meta["message_id"]  # the reasoning came in the call's message
    assert (final.role, final.text, final.model) == ("assistant", FINAL, MODEL)
    assert [c.tool_name for c in first.tool_calls] == ["run_shell_command", "read_file", "edit", "write_file",
                                                       "run_shell_command"]
    assert [c.call_id for c in first.tool_calls] == ["call_wc", "call_read", "call_edit", "call_write", "call_cat"]
    assert all(c.model == MODEL and c.duration_ms is not None for c in first.tool_calls)
    assert wc.input == {"command": WC, "is_background": False}
    assert shell_output(WC, "2 notes.txt", 0).fullmatch(wc.output)
    assert (wc.exit_code, wc.is_error, wc.meta["status"]) == (0, False, "success")

    assert read.input == {"file_path": f"{work}/notes.txt"} and read.output == "line one\nTODO: greet\n"
    assert edit.input == {"file_path": f"{work}/notes.txt", "old_string": "TODO: greet",
                          "new_string": "Hello from bashgym"}
    assert edit.output == (f"The file: {work}/notes.txt has been updated. Showing lines 1-3 of 3 from the edited "
                           "file:\n\n---\n\nline one\nHello from bashgym\n")
    assert "\n-TODO: greet\n+Hello from bashgym\n" in edit.meta["file_diff"] and not edit.is_error
    assert write.input == {"file_path": f"{work}/hello.txt", "content": "hi\n"}
    assert write.output == f"Successfully created and wrote to new file: {work}/hello.txt."
    assert write.meta["file_diff"].endswith("@@ -0,0 +1,1 @@\n+hi\n") and not write.is_error

    assert cat.input == {"command": CAT, "is_background": False}
    assert shell_output(CAT,
                        "line one\nHello from bashgym\nhi\ncat: missing.txt: No such file or directory", 1
                        ).fullmatch(cat.output)
    assert (cat.exit_code, cat.is_error, cat.meta["status"]) == (1, True, "error")

    user2, head, final2 = second.steps
    assert (user2.text, final2.text) == (FOLLOWUP, FINAL_2)
    assert head.input == {"command": HEAD, "is_background": False} and (head.exit_code, head.is_error) == (0, False)
    assert shell_output(HEAD, "line one\nHello from bashgym", 0).fullmatch(head.output)
    assert not any(s.meta.get("no_result") or s.meta.get("orphan_result") for s in session.steps)

    # OpenAI usage through Qwen: prompt tokens include the cached ones, completion tokens the reasoning ones;
    # bashgym's input leaves cache reads out, its output keeps the reasoning.
    for turn, steps in ((first, USAGES[:FIRST_STEPS]), (second, USAGES[FIRST_STEPS:])):
        cached = sum(s[2] for s in steps)
        assert turn.usage.input_tokens == sum(s[0] for s in steps) - cached
        assert turn.usage.output_tokens == sum(s[1] for s in steps)
        assert (turn.usage.cache_read_tokens, turn.usage.cache_creation_tokens) == (cached, 0)
    assert (first.usage.input_tokens, first.usage.output_tokens, second.usage.input_tokens) == (6300, 112, 2600)
    assert session.usage.input_tokens == 8900 and session.usage.output_tokens == 132


def test_recorded_qwen_chat_imports_prompts_reasoning_tools_edits_model_and_usage(isolated_home: Path) -> None:
    chat, records = recorded_chat()
    report = import_qwen(RECORDED)
    assert (report["sessions"], report["skipped_lines"], report["errors"]) == (1, 0, [])
    with Store.open() as store:
        check_qwen_session(store.get_session(records[0]["sessionId"]), records[0]["cwd"])
    assert import_qwen(RECORDED)["sessions"] == 0


def test_a_rewound_branch_is_left_out_and_the_live_one_imported(tmp_path: Path) -> None:
    """The recording with the second prompt rewound away: a new prompt and reply whose parent is the record the
    second prompt hung from (as `/rewind` re-roots the chain) are appended; the dead branch stays in the file."""
    chat, records = recorded_chat()
    second = next(r for r in records if r["type"] == "user" and FOLLOWUP in json.dumps(r))
    prompt = {**second, "uuid": str(uuid.uuid4()), "message": {"role": "user", "parts": [{"text": "[QW2b] Done?"}]}}
    reply = {**next(r for r in records if r["type"] == "assistant" and FINAL_2 in json.dumps(r)),
             "uuid": str(uuid.uuid4()), "parentUuid": prompt["uuid"],
             "message": {"role": "model", "parts": [{"text": "Yes."}]}}
    path = tmp_path / "projects" / "p" / "chats" / chat.name
    path.parent.mkdir(parents=True)
    path.write_text(chat.read_text() + "".join(json.dumps(r) + "\n" for r in (prompt, reply)))
    [session] = QwenSource().parse(str(path), enumerate(path.read_bytes().split(b"\n"), start=1)).sessions
    assert [t.prompt for t in session.turns] == [PROMPT, "[QW2b] Done?"]
    assert [s.text for s in session.turns[1].steps] == ["[QW2b] Done?", "Yes."]
    assert "call_head" not in {s.call_id for s in session.steps}


def test_bad_lines_are_reported_with_their_line_and_the_chat_still_imported(isolated_home: Path,
                                                                            tmp_path: Path) -> None:
    chat, _ = recorded_chat()
    path = tmp_path / "projects" / "p" / "chats" / chat.name
    path.parent.mkdir(parents=True)
    lines = chat.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", json.dumps({"type": "summary"}), *lines[1:]]) + "\n")
    report = import_qwen(tmp_path / "projects")
    assert report["sessions"] == 1
    assert [(e["line"], e["error"][:20]) for e in report["errors"]] == [(2, "invalid JSON (unexpe"),
                                                                         (3, "not a Qwen Code chat")]


def test_import_all_and_the_source_list_include_qwen(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(RECORDED, isolated_home / ".qwen" / "projects")
    listed = runner.invoke(app, ["import"])
    assert listed.exit_code == 0 and "│ qwen " in listed.output  # the table wraps long paths: not checked here
    monkeypatch.setenv("QWEN_HOME", "/elsewhere/qwen")  # Qwen Code's own override of ~/.qwen
    assert QwenSource().default_root() == Path("/elsewhere/qwen/projects")
    monkeypatch.delenv("QWEN_HOME")
    result = runner.invoke(app, ["import", "all", "--json"])
    assert result.exit_code == 0, result.output
    [qwen] = [s for s in json.loads(result.output)["sources"] if s["source"] == "qwen"]
    assert (qwen["root"], qwen["sessions"], qwen["errors"]) == (str(isolated_home / ".qwen" / "projects"), 1, [])


@pytest.mark.slow
def test_real_qwen_cli_session_imports_prompts_reasoning_tools_edits_model_and_usage(isolated_home: Path,
                                                                                     tmp_path: Path) -> None:
    qwen = qwen_command()
    assert qwen is not None, "npm is required: the test installs @qwen-code/qwen-code and Node 22"
    version = subprocess.run([*qwen, "--version"], capture_output=True, text=True).stdout.strip()
    assert version == locked_version(QWEN_PACKAGE), version
    home, work = tmp_path / "qwen-home", tmp_path / "work"
    home.mkdir()
    outputs, server = run_scenario(qwen, home, work)

    # The CLI really ran the tools, and asked nothing but the streaming chat route, with the chosen model.
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert (work / "hello.txt").read_text() == "hi\n"
    assert {(r["method"], r["path"]) for r in server.requests} == {("POST", "/v1/chat/completions")}
    assert len(server.requests) == len(USAGES) and {r["body"]["model"] for r in server.requests} == {MODEL}
    first, second = (out[-1] for out in outputs)
    assert (first["type"], first["result"], second["result"]) == ("result", FINAL, FINAL_2)
    assert first["session_id"] == second["session_id"]

    root = qwen_projects(home)
    [chat] = chats(home)  # the resumed prompt is appended to the same file
    assert chat.name == f"{first['session_id']}.jsonl"
    before = fingerprints(root)
    report = import_qwen(root)
    assert (report["files_read"], report["sessions"], report["skipped_lines"], report["errors"]) == (1, 1, 0, [])
    assert import_qwen(root)["sessions"] == 0  # a rerun adds nothing
    assert fingerprints(root) == before  # the user's files left as they were

    with Store.open() as store:
        check_qwen_session(store.get_session(first["session_id"]), str(work))
