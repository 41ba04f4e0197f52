"""End to end with the real Gemini CLI (npm `@google/gemini-cli` 0.61.x), headless, against a scripted Gemini API
server on 127.0.0.1: the CLI runs shell commands, edits and writes files as the script tells it, records the chat
under `~/.gemini/tmp/<project>/chats/`, is resumed for a second prompt, and `bashgym import gemini <dir>` then
stores it. The same scenario's recording is committed in tests/fixtures/gemini/
(`python tests/harness/make_gemini_fixtures.py tests/fixtures/gemini`), so the parser is checked against what
the real CLI writes even where npm is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.sources.gemini import parse_gemini_file  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.gemini_cli import chats, gemini_bin, gemini_tmp  # noqa: E402
from harness.make_gemini_fixtures import (  # noqa: E402
    FINAL,
    FINAL_2,
    FIRST_STEPS,
    FOLLOWUP,
    MODEL,
    PROMPT,
    THOUGHT,
    USAGES,
    run_scenario,
)
from harness.npm_tools import GEMINI_PACKAGE, locked_version  # noqa: E402

runner = CliRunner()
RECORDED = Path(__file__).parent / "fixtures" / "gemini"
SHELL_ID = re.compile(r"run_shell_command__run_shell_command_\d+_\d+")


def shell_output(text: str) -> re.Pattern[str]:
    """What run_shell_command answers the model in 0.61: the output, `Exit Code: N` only when N != 0, and the
    process group, wrapped as untrusted context."""
    return re.compile(r"<untrusted_context>\nOutput: " + re.escape(text) + r"\nProcess Group PGID: \d+\n"
                      r"</untrusted_context>")


def import_gemini(root: Path) -> dict:
    result = runner.invoke(app, ["import", "gemini", str(root), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fingerprints(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def check_gemini_session(session, work: str) -> None:
    """The steps the scripted scenario (harness/make_gemini_fixtures.py) makes the real CLI record."""
    assert (session.source, session.cwd, session.project, session.title) == ("gemini", work, work, None)
    assert session.models == [MODEL] and session.parent_id is None
    assert [t.prompt for t in session.turns] == [PROMPT, FOLLOWUP]  # the injected <session_context> is no turn
    first, second = session.turns
    # The resume rewrote the first turn's messages with the resume time; bashgym keeps the recorded ones.
    assert session.started_at <= first.started_at <= first.ended_at < second.started_at <= session.ended_at

    user, thought, wc, replace, write, cat, final = first.steps
    assert (user.role, user.text) == ("user", PROMPT)
    assert (thought.role, thought.text, thought.thinking, thought.model) == ("assistant", "", THOUGHT, MODEL)
    assert (final.role, final.text, final.model) == ("assistant", FINAL, MODEL)
    assert [c.tool_name for c in first.tool_calls] == ["run_shell_command", "replace", "write_file",
                                                       "run_shell_command"]
    assert all(c.model == MODEL and c.meta["status"] == "success" for c in first.tool_calls)
    assert SHELL_ID.fullmatch(wc.call_id) and SHELL_ID.fullmatch(cat.call_id)
    assert wc.input == {"command": "wc -l notes.txt", "description": "Count the lines"}
    assert shell_output("2 notes.txt").fullmatch(wc.output)
    assert (wc.exit_code, wc.is_error) == (0, False)

    assert replace.call_id.startswith("replace__replace_")
    assert replace.input == {"file_path": f"{work}/notes.txt", "old_string": "TODO: greet",
                             "new_string": "Hello from bashgym", "instruction": "Replace the TODO with a greeting."}
    assert replace.output == (f"Successfully modified file: {work}/notes.txt (1 replacements). Here is the updated "
                              "code:\nline one\nHello from bashgym\n")
    assert "\n-TODO: greet\n+Hello from bashgym\n" in replace.meta["file_diff"] and not replace.is_error
    assert write.input == {"file_path": f"{work}/hello.txt", "content": "hi\n"}
    assert write.output == (f"Successfully created and wrote to new file: {work}/hello.txt. Here is the updated "
                            "code:\nhi\n")
    assert write.meta["file_diff"].endswith("@@ -0,0 +1,1 @@\n+hi\n") and not write.is_error

    assert cat.input == {"command": "cat notes.txt hello.txt missing.txt"}
    assert shell_output("line one\nHello from bashgym\nhi\ncat: missing.txt: No such file or directory\n"
                        "Exit Code: 1").fullmatch(cat.output)
    assert (cat.exit_code, cat.is_error) == (1, True)

    user2, head, final2 = second.steps
    assert (user2.text, final2.text) == (FOLLOWUP, FINAL_2)
    assert head.input == {"command": "head -n 2 notes.txt"} and (head.exit_code, head.is_error) == (0, False)
    assert shell_output("line one\nHello from bashgym").fullmatch(head.output)

    # Gemini's tokens: input includes the cached ones, output leaves the thoughts out; bashgym's usage gives
    # input without cache reads and output with thoughts.
    for turn, steps in ((first, USAGES[:FIRST_STEPS]), (second, USAGES[FIRST_STEPS:])):
        cached = sum(s[2] for s in steps)
        assert turn.usage.input_tokens == sum(s[0] for s in steps) - cached
        assert turn.usage.output_tokens == sum(s[1] + s[3] for s in steps)
        assert (turn.usage.cache_read_tokens, turn.usage.cache_creation_tokens) == (cached, 0)
    assert (first.usage.input_tokens, first.usage.output_tokens, second.usage.input_tokens) == (4800, 107, 2600)
    assert session.usage.input_tokens == 7400 and session.usage.output_tokens == 127


def test_recorded_gemini_cli_chat_imports_prompts_tools_edits_model_and_usage(isolated_home: Path) -> None:
    [chat] = sorted(RECORDED.rglob("chats/**/*.jsonl"))
    work = (chat.parents[1] / ".project_root").read_text().strip()
    session_id = json.loads(chat.read_text().splitlines()[0])["sessionId"]
    report = import_gemini(RECORDED)
    assert (report["sessions"], report["skipped_lines"], report["errors"]) == (1, 0, [])
    with Store.open() as store:
        check_gemini_session(store.get_session(session_id), work)
    assert import_gemini(RECORDED)["sessions"] == 0


def test_empty_chat_left_by_a_resume_in_a_later_minute_does_not_replace_the_chat(isolated_home: Path,
                                                                                 tmp_path: Path) -> None:
    """Recorded with the real CLI (make_gemini_fixtures.py --resume-in-a-later-minute): the resumed chat and
    the stub the CLI starts in the resume's minute, with the same session id and no conversation. Read in
    either order, the store keeps the whole chat."""
    recorded = Path(__file__).parent / "fixtures" / "gemini_resumed_later"
    chat, stub = sorted(recorded.rglob("chats/*.jsonl"))
    session_id = json.loads(chat.read_text().splitlines()[0])["sessionId"]
    assert json.loads(stub.read_text().splitlines()[0])["sessionId"] == session_id
    assert parse_gemini_file(str(stub), stub.read_bytes()).sessions == []
    work = (chat.parents[1] / ".project_root").read_text().strip()

    report = import_gemini(recorded)  # both files in one import
    assert (report["files_read"], report["sessions"], report["errors"]) == (2, 1, [])
    with Store.open() as store:
        check_gemini_session(store.get_session(session_id), work)

    store_home = tmp_path / "later"  # the chat imported first, the stub found by a later import
    (store_home / "work" / "chats").mkdir(parents=True)
    for path in (chat, chat.parents[1] / ".project_root"):
        target = store_home / path.relative_to(recorded)
        target.write_bytes(path.read_bytes())
    assert import_gemini(store_home)["sessions"] == 1
    (store_home / stub.relative_to(recorded)).write_bytes(stub.read_bytes())
    assert import_gemini(store_home)["sessions"] == 0
    with Store.open() as store:
        check_gemini_session(store.get_session(session_id), work)


def test_history_the_cli_rebuilt_from_api_contents_keeps_calls_results_and_exit_codes(tmp_path: Path) -> None:
    """The recording without the first prompt's own records: what is left of that turn is the `$set` list the
    resume wrote from the API history (functionCall and thought parts in gemini messages, results in user
    messages, some twice), as a file rewritten from memory would hold it."""
    [chat] = sorted(RECORDED.rglob("chats/**/*.jsonl"))
    lines = chat.read_text().splitlines()
    resumed = next(i for i, line in enumerate(lines) if i and '"sessionId"' in line and '"projectHash"' in line)
    [session] = parse_gemini_file(str(chat), "\n".join([lines[0], *lines[resumed:]]).encode()).sessions
    assert [t.prompt for t in session.turns] == [PROMPT, FOLLOWUP]
    user, thought, wc, replace, write, cat, final = session.turns[0].steps
    assert (thought.thinking, final.text) == (THOUGHT, FINAL)
    assert [c.tool_name for c in session.turns[0].tool_calls] == ["run_shell_command", "replace", "write_file",
                                                                  "run_shell_command"]
    assert shell_output("2 notes.txt").fullmatch(wc.output) and (wc.exit_code, wc.is_error) == (0, False)
    assert replace.output.startswith("Successfully modified file: ") and write.input["content"] == "hi\n"
    assert (cat.exit_code, cat.is_error) == (1, True)
    assert not any(s.meta.get("orphan_result") or s.meta.get("no_result") for s in session.turns[0].steps)
    assert session.turns[0].usage.input_tokens == 0  # the rebuilt messages carry no tokens


@pytest.mark.slow
def test_real_gemini_cli_session_imports_prompts_tools_edits_model_and_usage(isolated_home: Path,
                                                                             tmp_path: Path) -> None:
    gemini = gemini_bin()
    assert gemini is not None, "npm is required: the test installs @google/gemini-cli"
    version = subprocess.run([str(gemini), "--version"], capture_output=True, text=True).stdout.strip()
    assert version == locked_version(GEMINI_PACKAGE), version
    home, work = tmp_path / "gemini-home", tmp_path / "work"
    home.mkdir()
    # The resume starts "in a later minute" every time: the CLI then leaves a second, empty chat file with the
    # same session id, which once made this test flaky and, imported, replaced the chat with an empty one.
    outputs, server = run_scenario(gemini, home, work, resume_in_a_later_minute=True)

    # The CLI really ran the tools, and asked nothing but the scripted streaming route, with the chosen model.
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert (work / "hello.txt").read_text() == "hi\n"
    paths = {(r["method"], r["path"]) for r in server.requests}
    assert paths == {("POST", f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse")}
    assert len(server.requests) == len(USAGES)
    sent = [p["functionResponse"] for c in server.requests[1]["body"]["contents"] for p in c["parts"]
            if "functionResponse" in p]
    assert [r["name"] for r in sent] == ["run_shell_command"]
    assert shell_output("2 notes.txt").fullmatch(sent[0]["response"]["output"])
    first, second = (json.loads(out) for out in outputs)
    assert (first["response"], second["response"]) == (FINAL, FINAL_2)
    assert first["session_id"] == second["session_id"]

    root = gemini_tmp(home)
    chat, stub = chats(home)  # the resumed prompt is appended to the first file; the stub sorts after it
    for path in (chat, stub):
        assert path.name.startswith("session-") and path.name.endswith(f"-{first['session_id'][:8]}.jsonl")
    assert FOLLOWUP in chat.read_text() and FOLLOWUP not in stub.read_text()
    assert [json.loads(line).get("sessionId") for line in stub.read_text().splitlines()][0] == first["session_id"]
    assert (chat.parents[1] / ".project_root").read_text().strip() == str(work)
    before = fingerprints(root)
    report = import_gemini(root)
    assert (report["files_read"], report["sessions"], report["skipped_lines"], report["errors"]) == (2, 1, 0, [])
    assert import_gemini(root)["sessions"] == 0  # a rerun adds nothing
    assert fingerprints(root) == before  # the user's files left as they were

    with Store.open() as store:
        check_gemini_session(store.get_session(first["session_id"]), str(work))
