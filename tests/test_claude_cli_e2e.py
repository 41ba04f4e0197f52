"""End to end with the real Claude Code CLI (npm), headless, against a scripted Messages API on 127.0.0.1.

`bashgym hooks install` writes the hooks into the temp HOME's settings.json; the CLI runs Bash and edits a
file as the script tells it; the hooks fire; the detached ingest puts the session in the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.store import Store  # noqa: E402
from harness.claude_cli import CLAUDE_PACKAGE, npm_bin  # noqa: E402
from harness.make_claude_fixtures import run_scenario  # noqa: E402
from harness.scenarios import SCENARIOS  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def claude() -> Path:
    path = npm_bin(CLAUDE_PACKAGE, "claude")
    assert path is not None, "npm is required: the test installs @anthropic-ai/claude-code"
    return path


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_hooks_capture_a_real_claude_code_session(claude: Path, isolated_home: Path, tmp_path: Path) -> None:
    bashgym_home = Path(os.environ["BASHGYM_HOME"])
    subprocess.run([sys.executable, "-m", "bashgym.cli", "hooks", "install"], check=True, capture_output=True)
    scenario = next(s for s in SCENARIOS if s.name == "list_and_edit")
    work, outputs = run_scenario(claude, scenario, isolated_home, tmp_path / "work")

    # The CLI really ran the tools.
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"
    assert '"type":"result"' in outputs[0].replace(" ", "")

    db = bashgym_home / "bashgym.db"

    def session_stored() -> bool:
        if not db.exists():
            return False
        with Store(db) as store:
            rows = store.list_sessions(project="list_and_edit")
            return bool(rows) and store.get_session(rows[0]["id"]).turns[0].steps[-1].text.startswith("Done")

    assert wait_for(session_stored), "the Stop hook's detached ingest did not store the session"
    with Store(db) as store:
        session = store.get_session(store.list_sessions(project="list_and_edit")[0]["id"])
    turn = session.turns[0]
    assert turn.prompt == scenario.prompt
    calls = turn.tool_calls
    assert [c.tool_name for c in calls] == ["Bash", "Read", "Edit", "Bash"]
    assert calls[0].input["command"] == "ls -la && wc -l notes.txt"
    assert "2 notes.txt" in calls[0].output and calls[0].exit_code == 0
    assert calls[2].input == {"file_path": str(work / "notes.txt"), "old_string": "TODO: greet",
                              "new_string": "Hello from bashgym", "replace_all": False}
    assert calls[3].output == "line one\nHello from bashgym"

    status = subprocess.run([sys.executable, "-m", "bashgym.cli", "hooks", "status", "--json"],
                            check=True, capture_output=True, text=True)
    report = json.loads(status.stdout)
    assert report["events"]["PostToolUse"] == 4
    for event in ("SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"):
        assert report["events"].get(event, 0) >= 1, event
    assert report["last_error"] is None


def test_subagent_session_captured_through_hooks(claude: Path, isolated_home: Path, tmp_path: Path) -> None:
    bashgym_home = Path(os.environ["BASHGYM_HOME"])
    subprocess.run([sys.executable, "-m", "bashgym.cli", "hooks", "install"], check=True, capture_output=True)
    scenario = next(s for s in SCENARIOS if s.name == "subagent")
    run_scenario(claude, scenario, isolated_home, tmp_path / "work")
    db = bashgym_home / "bashgym.db"

    def both_stored() -> bool:
        if not db.exists():
            return False
        with Store(db) as store:
            return store.count_sessions(project="subagent") == 2

    assert wait_for(both_stored)
    with Store(db) as store:
        parent = store.list_sessions(project="subagent", parent="")[0]
        children = store.child_session_ids(parent["id"])
        assert len(children) == 1
        child = store.get_session(children[0])
    assert child.turns[0].tool_calls[0].input["command"] == "ls | wc -l"
    assert child.turns[0].tool_calls[0].output.strip() == "2"
