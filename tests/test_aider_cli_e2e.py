"""End to end with the real Aider (PyPI `aider-chat`, pinned in tests/harness/aider-requirements.txt and
installed into its own venv), headless in a temporary HOME and git repository, against a scripted
chat-completions server on 127.0.0.1: the model's reply edits a file with a SEARCH/REPLACE block and proposes a
shell command, aider applies the edit, commits it and runs the command; a second run has the user `/run` a
command. `bashgym import aider` then stores exactly those prompts, the reply, the edit as a diff, the commands,
the commit, model, usage and version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.aider_cli import aider_bin, init_repo, pinned_version, run_aider  # noqa: E402
from harness.openai_server import ScriptedOpenAIServer  # noqa: E402

pytestmark = pytest.mark.slow
runner = CliRunner()

MODEL = "openai/scripted-coder-1"
PROMPT = "[AI1] Replace the TODO in notes.txt with a greeting, then count its lines."
REPLY = """I'll replace the TODO, then count the lines.

notes.txt
```
<<<<<<< SEARCH
TODO: greet
=======
Hello from bashgym
>>>>>>> REPLACE
```

```bash
wc -l notes.txt
```"""
COMMIT_MESSAGE = "Greet in notes.txt instead of the TODO"
USER_RUN = "/run cat notes.txt"
START = {"notes.txt": "line one\nTODO: greet\n"}


def reply(body: dict) -> dict:
    """The scripted model: the edit and command for the task, a one-line message when aider asks for a commit
    message (its system prompt says so)."""
    system = " ".join(str(m.get("content")) for m in body["messages"] if m["role"] == "system")
    return {"content": COMMIT_MESSAGE if "commit message" in system.lower() else REPLY}


def record(aider: Path, home: Path, work: Path) -> ScriptedOpenAIServer:
    """Run the scenario: the task (one reply, one commit message), then the user's own /run."""
    init_repo(work, START)
    with ScriptedOpenAIServer(reply) as server:
        for message, files in ((PROMPT, ("notes.txt",)), (USER_RUN, ())):
            result = run_aider(aider, message, home=home, cwd=work, base_url=server.url, model=MODEL, files=files)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return server


def test_real_aider_history_imports_prompt_reply_edit_commands_and_commit(isolated_home: Path,
                                                                         tmp_path: Path) -> None:
    aider = aider_bin()
    assert aider is not None, "pip could not install the pinned aider-chat into .tools/aider"
    home, work = tmp_path / "aider-home", tmp_path / "work"
    home.mkdir()
    server = record(aider, home, work)

    # The agent really edited the file and committed it; the model was asked for the task and the commit message.
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert len(server.requests) == 2 and all(b["model"] == "scripted-coder-1" for b in server.requests)
    assert PROMPT in json.dumps(server.requests[0]["messages"])
    history = work / ".aider.chat.history.md"
    assert history.is_file()

    imported = runner.invoke(app, ["import", "aider", str(work), "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.output)
    assert (report["sessions"], report["errors"]) == (2, [])
    again = runner.invoke(app, ["import", "aider", str(work), "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["sessions"] == 0

    with Store.open() as store:
        sessions = [store.get_session(s["id"]) for s in store.list_sessions(source="aider")]
    task, run = sorted(sessions, key=lambda s: s.turns[0].prompt != PROMPT)
    for session in sessions:
        assert session.agent_version == pinned_version() and session.models == [MODEL]
        assert session.cwd == str(work.resolve()) and session.started_at is not None

    [turn] = task.turns
    assert turn.prompt == PROMPT and turn.steps[0].text == PROMPT and turn.started_at is not None
    said = [s for s in turn.steps if s.kind == "message" and s.role == "assistant"]
    assert [s.text for s in said] == [REPLY]
    edit, wc = turn.tool_calls
    assert (edit.tool_name, edit.input) == ("Edit", {"file_path": "notes.txt", "old_string": "TODO: greet",
                                                     "new_string": "Hello from bashgym"})
    assert (edit.output, edit.is_error) == ("Applied edit to notes.txt", False)
    assert edit.meta["diff"] == "--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-TODO: greet\n+Hello from bashgym\n"
    assert (wc.tool_name, wc.input, wc.output, wc.meta["output_recorded"]) == (
        "bash", {"command": "wc -l notes.txt"}, None, False)
    assert edit.meta["message_id"] == wc.meta["message_id"] == said[0].meta["message_id"]
    [commit] = turn.meta["commits"]
    assert commit["message"] == COMMIT_MESSAGE
    assert commit["sha"] in _git_log(work)
    # The scripted server reports 100 prompt and 10 completion tokens per call; aider notes the task's call.
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (100, 10)

    [run_turn] = run.turns
    assert run_turn.prompt == USER_RUN
    [cat] = run_turn.tool_calls
    assert (cat.input, cat.meta["issued_by"]) == ({"command": "cat notes.txt"}, "user")


def _git_log(work: Path) -> str:
    import subprocess

    return subprocess.run(["git", "log", "--format=%h %H %s"], cwd=work, capture_output=True, text=True).stdout
