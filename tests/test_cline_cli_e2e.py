"""End to end with the real Cline CLI (npm `cline` 3.0.x), headless, against a scripted streaming
chat-completions server on 127.0.0.1: the CLI reasons, runs shell commands (one call with two), edits a file
and creates one as the script tells it, records the session under `~/.cline/data/sessions/<id>/`, and
`bashgym import cline <dir>` then stores it. The same scenario's recording is committed in tests/fixtures/cline/
(`python tests/harness/make_cline_fixtures.py tests/fixtures/cline`), so the parser is checked against what the
real CLI writes even where npm is missing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.schema import shell_command  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.cline_cli import cline_bin, cline_sessions  # noqa: E402
from harness.make_cline_fixtures import FINAL, MODEL, PROMPT, THOUGHT, USAGES, run_scenario  # noqa: E402
from harness.npm_tools import CLINE_PACKAGE, locked_version  # noqa: E402

runner = CliRunner()
RECORDED = Path(__file__).parent / "fixtures" / "cline"


def import_cline(root: Path) -> dict:
    result = runner.invoke(app, ["import", "cline", str(root), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fingerprints(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def check_cline_session(session, work: str) -> None:
    """The steps the scripted scenario (harness/make_cline_fixtures.py) makes the real CLI record."""
    assert (session.source, session.cwd, session.project) == ("cline", work, work)
    assert session.models == [MODEL] and session.parent_id is None
    assert session.agent_version == locked_version(CLINE_PACKAGE)
    assert session.meta["provider"] == "openai-compatible" and session.meta["status"] == "completed"
    [turn] = session.turns
    assert turn.prompt == PROMPT and turn.meta["mode"] == "act"
    assert session.started_at <= turn.started_at <= turn.ended_at <= session.ended_at

    user, thought, wc, edit, write, cat, echo, final = turn.steps
    assert (user.role, user.text) == ("user", PROMPT)
    assert (thought.role, thought.text, thought.thinking, thought.model) == ("assistant", "", THOUGHT, MODEL)
    assert thought.meta["message_id"] == wc.meta["message_id"]
    assert (final.role, final.text, final.model) == ("assistant", FINAL, MODEL)
    assert [c.tool_name for c in turn.tool_calls] == ["run_commands", "editor", "editor", "run_commands",
                                                      "run_commands"]
    assert [c.call_id for c in turn.tool_calls] == ["call_wc", "call_edit", "call_write", "call_cat#0", "call_cat#1"]
    assert (shell_command(wc), wc.output, wc.exit_code, wc.is_error) == ("wc -l notes.txt", "2 notes.txt\n", 0, False)

    assert edit.input == {"path": f"{work}/notes.txt", "old_text": "TODO: greet", "new_text": "Hello from bashgym"}
    assert edit.output == f"Edited {work}/notes.txt\n```diff\n-2: TODO: greet\n+2: Hello from bashgym\n```"
    assert edit.meta["file_diff"] == "-2: TODO: greet\n+2: Hello from bashgym\n" and not edit.is_error
    assert write.input == {"path": f"{work}/hello.txt", "new_text": "hi\n"}
    assert write.output == f"File created successfully at: {work}/hello.txt" and not write.is_error

    # One run_commands call with two commands: a step each, its own exit code, the call kept in meta.
    assert cat.meta["call"] == {"id": "call_cat", "index": 0, "of": 2} and echo.meta["call"]["index"] == 1
    assert cat.meta["message_id"] == echo.meta["message_id"]
    assert shell_command(cat) == "cat notes.txt hello.txt missing.txt"
    assert cat.output == ("[Command exited with code 1]\nline one\nHello from bashgym\nhi\n\n[stderr]\n"
                          "cat: missing.txt: No such file or directory\n")
    assert (cat.exit_code, cat.is_error) == (1, True)
    assert (shell_command(echo), echo.output, echo.exit_code, echo.is_error) == ("echo done", "done\n", 0, False)
    assert not any(s.meta.get("no_result") or s.meta.get("orphan_result") for s in session.steps)

    # Cline's inputTokens include the cache reads (OpenAI-compatible provider); bashgym's input leaves them out.
    cached = sum(u[2] for u in USAGES)
    assert (turn.usage.input_tokens, turn.usage.cache_read_tokens) == (sum(u[0] for u in USAGES) - cached, cached)
    assert turn.usage.output_tokens == sum(u[1] for u in USAGES) == 100
    assert session.usage.to_dict() == turn.usage.to_dict()


def test_recorded_cline_session_imports_prompt_reasoning_tools_edits_model_and_usage(isolated_home: Path) -> None:
    [messages] = sorted(RECORDED.rglob("*.messages.json"))
    meta = json.loads(messages.with_name(messages.name.replace(".messages", "")).read_text())
    report = import_cline(RECORDED)
    assert (report["sessions"], report["skipped_lines"], report["errors"]) == (1, 0, [])
    with Store.open() as store:
        check_cline_session(store.get_session(meta["session_id"]), meta["cwd"])
    assert import_cline(RECORDED)["sessions"] == 0


def test_a_file_that_is_not_a_cline_session_is_reported_by_its_path(isolated_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "s" / "x" / "x.messages.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"sessionId": "x"}))
    (bad.parent / "y.messages.json").write_text("{broken")
    report = import_cline(tmp_path / "s")
    assert report["sessions"] == 0
    errors = sorted((Path(e["path"]).name, e["error"][:40]) for e in report["errors"])
    assert errors == [("x.messages.json", "not a Cline session messages file: no `m"),
                      ("y.messages.json", "invalid JSON document (unexpected charac")]


def test_import_all_and_the_source_list_include_cline(isolated_home: Path) -> None:
    shutil.copytree(RECORDED, isolated_home / ".cline" / "data" / "sessions")
    listed = runner.invoke(app, ["import"])
    assert listed.exit_code == 0 and "│ cline " in listed.output
    result = runner.invoke(app, ["import", "all", "--json"])
    assert result.exit_code == 0, result.output
    [cline] = [s for s in json.loads(result.output)["sources"] if s["source"] == "cline"]
    assert (cline["root"], cline["sessions"], cline["errors"]) == (
        str(isolated_home / ".cline" / "data" / "sessions"), 1, [])


@pytest.mark.slow
def test_real_cline_cli_session_imports_prompt_reasoning_tools_edits_model_and_usage(isolated_home: Path,
                                                                                     tmp_path: Path) -> None:
    cline = cline_bin()
    assert cline is not None, "npm is required: the test installs the Cline CLI"
    version = subprocess.run([str(cline), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert version == locked_version(CLINE_PACKAGE), version
    home, work = tmp_path / "cline-home", tmp_path / "work"
    home.mkdir()
    events, server = run_scenario(cline, home, work)

    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert (work / "hello.txt").read_text() == "hi\n"
    assert {(r["method"], r["path"]) for r in server.requests} == {("POST", "/v1/chat/completions")}
    assert len(server.requests) == len(USAGES) and {r["body"]["model"] for r in server.requests} == {MODEL}
    assert (events[-1]["type"], events[-1]["finishReason"], events[-1]["text"]) == ("run_result", "completed", FINAL)
    # The local session backend: no hub daemon outlives the run.
    daemons = subprocess.run(["pgrep", "-f", f"cline-hub-daemon --cwd {work}"], capture_output=True, text=True)
    assert daemons.stdout == ""

    root = cline_sessions(home)
    before = fingerprints(root)
    report = import_cline(root)
    assert (report["files_read"], report["sessions"], report["skipped_lines"], report["errors"]) == (1, 1, 0, [])
    assert import_cline(root)["sessions"] == 0
    assert fingerprints(root) == before
    [messages] = sorted(root.rglob("*.messages.json"))
    with Store.open() as store:
        check_cline_session(store.get_session(messages.parent.name), str(work))
