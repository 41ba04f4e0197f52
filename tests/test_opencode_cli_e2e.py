"""End to end with the real OpenCode CLI (npm `opencode-ai` 1.18.x), headless, against a scripted streaming
chat-completions server on 127.0.0.1: the CLI runs bash, reads, edits and writes files as the script tells it
and records the session in its own `opencode.db`; `bashgym import opencode <data dir>` then stores it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.chat_stream_server import ScriptedChatStreamServer, say, tool_call, usage  # noqa: E402
from harness.npm_tools import OPENCODE_PACKAGE, locked_version  # noqa: E402
from harness.opencode_cli import data_dir, opencode_bin, run_opencode  # noqa: E402

pytestmark = pytest.mark.slow
runner = CliRunner()

MODEL = "scripted-coder-1"
TITLE = "Count lines and greet"
PROMPT = '[OC1] How many lines does "notes.txt" have?\nThen replace the TODO with a greeting and add hello.txt.'
FINAL = "notes.txt had 2 lines; it now greets, and hello.txt is added."
# Per step: prompt tokens (cached ones included), completion tokens (reasoning included), cached, reasoning.
USAGES = [(1200, 30, 200, 5), (1300, 20, 0, 0), (1400, 40, 1000, 0), (1500, 25, 0, 0), (1600, 15, 0, 0),
          (1700, 12, 1500, 3)]


def script(work: Path) -> list[dict]:
    notes, hello = str(work / "notes.txt"), str(work / "hello.txt")
    calls = [
        ("bash", {"command": "wc -l notes.txt"}, "call_wc"),
        ("read", {"filePath": notes}, "call_read"),
        ("edit", {"filePath": notes, "oldString": "TODO: greet", "newString": "Hello from bashgym"}, "call_edit"),
        ("write", {"filePath": hello, "content": "hi\n"}, "call_write"),
        ("bash", {"command": "cat notes.txt hello.txt missing.txt"}, "call_cat"),
    ]
    replies = [tool_call(name, args, call_id, usage(*u))
               for (name, args, call_id), u in zip(calls, USAGES[:-1], strict=True)]
    return [*replies, say(FINAL, usage(*USAGES[-1]))]


@pytest.fixture(scope="module")
def opencode() -> Path:
    path = opencode_bin()
    assert path is not None, "npm is required: the test installs opencode-ai"
    return path


def fingerprints(directory: Path) -> dict[str, str]:
    """The database and its WAL; `-shm` is SQLite's shared wal-index, where every WAL reader (OpenCode too)
    writes its read marks, so it is left out."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (directory / "opencode.db", directory / "opencode.db-wal") if p.exists()}


def test_real_opencode_cli_session_imports_prompt_tools_edits_model_and_usage(opencode: Path, isolated_home: Path,
                                                                              tmp_path: Path) -> None:
    home, work = tmp_path / "opencode-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    with ScriptedChatStreamServer(script(work), title=TITLE) as server:
        result = run_opencode(opencode, PROMPT, home=home, cwd=work, base_url=server.url, model=MODEL)
    assert result.returncode == 0, result.stdout + result.stderr

    # The CLI really ran the tools, and talked to nothing but the scripted chat-completions route.
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert (work / "hello.txt").read_text() == "hi\n"
    assert {(r["method"], r["path"]) for r in server.requests} == {("POST", "/v1/chat/completions")}
    steps = [r["body"] for r in server.requests if r["body"].get("tools")]
    assert len(steps) == 6 and len(server.requests) == 7  # six agent steps and one title request
    assert all(b["model"] == MODEL and b["stream"] for b in steps)
    sent = [m for m in steps[1]["messages"] if m["role"] == "tool"]
    assert sent == [{"role": "tool", "tool_call_id": "call_wc", "content": "2 notes.txt\n"}]
    session_id = json.loads(result.stdout.splitlines()[0])["sessionID"]

    opencode_data = data_dir(home)
    assert (opencode_data / "opencode.db").is_file()
    before, listing = fingerprints(opencode_data), sorted(p.name for p in opencode_data.iterdir())
    assert "opencode.db-wal" in before  # OpenCode exits without checkpointing: rows are still in the WAL
    imported = runner.invoke(app, ["import", "opencode", str(opencode_data), "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.output)
    assert (report["sessions"], report["skipped_lines"], report["errors"]) == (1, 0, [])
    again = runner.invoke(app, ["import", "opencode", str(opencode_data), "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["sessions"] == 0
    assert fingerprints(opencode_data) == before  # the user's database (and its WAL) left as it was
    assert sorted(p.name for p in opencode_data.iterdir()) == listing

    with Store.open() as store:
        session = store.get_session(session_id)
    version = subprocess.run([str(opencode), "--version"], capture_output=True, text=True).stdout.strip()
    assert version == locked_version(OPENCODE_PACKAGE)
    assert (session.source, session.title, session.cwd, session.agent_version) == ("opencode", TITLE, str(work),
                                                                                    version)
    assert session.models == [MODEL]
    [turn] = session.turns
    assert turn.prompt == PROMPT
    assert turn.steps[0].role == "user" and turn.steps[0].text == PROMPT
    assert turn.steps[-1].role == "assistant" and turn.steps[-1].text == FINAL and turn.steps[-1].model == MODEL

    wc, read, edit, write, cat = turn.tool_calls
    assert [c.tool_name for c in turn.tool_calls] == ["bash", "read", "edit", "write", "bash"]
    assert all(c.model == MODEL for c in turn.tool_calls)
    assert (wc.call_id, wc.input, wc.output, wc.exit_code, wc.is_error) == (
        "call_wc", {"command": "wc -l notes.txt"}, "2 notes.txt\n", 0, False)
    assert "1: line one\n2: TODO: greet" in read.output
    assert edit.input == {"filePath": str(work / "notes.txt"), "oldString": "TODO: greet",
                          "newString": "Hello from bashgym"}
    assert edit.output == "Edit applied successfully." and not edit.is_error
    assert "+Hello from bashgym" in edit.meta["diff"]
    assert write.input == {"filePath": str(work / "hello.txt"), "content": "hi\n"} and not write.is_error
    assert cat.input == {"command": "cat notes.txt hello.txt missing.txt"}
    assert cat.output == "line one\nHello from bashgym\nhi\ncat: missing.txt: No such file or directory\n"
    assert (cat.exit_code, cat.is_error) == (1, True)

    # OpenCode stores input = prompt - cached and output = completion - reasoning (+ reasoning apart);
    # bashgym's usage gives back input without cache reads and output with reasoning.
    cached = sum(u[2] for u in USAGES)
    assert turn.usage.input_tokens == sum(u[0] for u in USAGES) - cached == 6000
    assert turn.usage.output_tokens == sum(u[1] for u in USAGES) == 142
    assert (turn.usage.cache_read_tokens, turn.usage.cache_creation_tokens) == (cached, 0)
    assert session.usage == turn.usage
