"""Live capture from the real Gemini CLI (npm `@google/gemini-cli`, the locked version), headless against the
scripted Gemini API server on 127.0.0.1: `bashgym hooks install --agent gemini` merges bashgym's hook into the
user's ~/.gemini/settings.json (keeping what is there), the CLI fires it on its own events while it runs a
shell command and edits a file, the hook logs them marked as Gemini's, and the detached ingest imports the chat
file after the turn — no `bashgym import` is run. `hooks status` counts the events per agent; `uninstall` takes
only bashgym's entries out again.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.gemini_cli import SETTINGS, gemini_bin, run_gemini  # noqa: E402
from harness.gemini_server import ScriptedGeminiServer, function_call, say, usage  # noqa: E402

pytestmark = pytest.mark.slow
runner = CliRunner()

MODEL = "gemini-scripted-1"
PROMPT = "[GH1] Count the lines of notes.txt, then replace the TODO with a greeting."
FINAL = "notes.txt has 2 lines and now greets."
USER_HOOK = {"matcher": "write_file", "hooks": [{"type": "command", "command": "true", "name": "mine"}]}


def script(work: Path) -> list:
    return [
        function_call("run_shell_command", {"command": "wc -l notes.txt"}, usage(100, 10)),
        function_call("replace", {"file_path": str(work / "notes.txt"), "old_string": "TODO: greet",
                                  "new_string": "Hello from bashgym", "instruction": "Greet."}, usage(110, 10)),
        say(FINAL, usage(120, 5)),
    ]


def wait_for_session(timeout: float = 60) -> list[dict]:
    """The Gemini sessions in the store, once the detached ingest has imported one (it runs after the turn)."""
    deadline = time.monotonic() + timeout
    while True:
        with Store.open() as store:
            found = store.list_sessions(source="gemini")
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_gemini_hook_captures_a_real_session_live(isolated_home: Path, tmp_path: Path) -> None:
    gemini = gemini_bin()
    assert gemini is not None, "npm is needed to install the Gemini CLI"
    settings_file = isolated_home / ".gemini" / "settings.json"
    settings_file.parent.mkdir(parents=True)
    user_settings = {**SETTINGS, "hooks": {"AfterTool": [USER_HOOK]}}
    settings_file.write_text(json.dumps(user_settings))
    bashgym_home = Path(os.environ["BASHGYM_HOME"])

    dry = runner.invoke(app, ["hooks", "install", "--agent", "gemini", "--dry-run"])
    assert dry.exit_code == 0 and "AfterAgent" in dry.output
    assert json.loads(settings_file.read_text()) == user_settings  # --dry-run wrote nothing
    installed = runner.invoke(app, ["hooks", "install", "--agent", "gemini", "--home", str(bashgym_home)])
    assert installed.exit_code == 0, installed.output
    merged = json.loads(settings_file.read_text())
    assert merged["security"] == SETTINGS["security"] and merged["hooks"]["AfterTool"][0] == USER_HOOK
    assert list(settings_file.parent.glob("settings.json.bashgym-backup-*"))
    again = runner.invoke(app, ["hooks", "install", "--agent", "gemini", "--home", str(bashgym_home)])
    assert "already installed" in again.output and json.loads(settings_file.read_text()) == merged

    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    env = {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}  # the ingest runs this checkout's code
    with ScriptedGeminiServer(script(work)) as server:
        result = run_gemini(gemini, PROMPT, home=isolated_home, cwd=work, base_url=server.url, model=MODEL,
                            extra_env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (work / "notes.txt").read_text() == "line one\nHello from bashgym\n"

    # The hook saw Gemini's events, marked as Gemini's, with its session id and chat file.
    lines = [json.loads(x) for x in (bashgym_home / "events" / "events.jsonl").read_text().splitlines()]
    assert lines and all(e["_bashgym_agent"] == "gemini" for e in lines)
    names = [e["hook_event_name"] for e in lines]
    assert names[0] == "SessionStart" and names.count("AfterTool") == 2 and "AfterAgent" in names
    assert "SessionEnd" in names and "BeforeAgent" in names
    session_id = json.loads(result.stdout)["session_id"]
    assert {e["session_id"] for e in lines} == {session_id}
    after = next(e for e in lines if e["hook_event_name"] == "AfterAgent")
    assert Path(after["transcript_path"]).is_file()
    assert not (bashgym_home / "events" / "errors.log").exists()

    # Imported live by the detached ingest: the prompt, the command and the edit.
    [summary] = wait_for_session()
    with Store.open() as store:
        session = store.get_session(summary["id"])
    assert [t.prompt for t in session.turns] == [PROMPT]
    calls = session.turns[0].tool_calls
    assert [c.tool_name for c in calls] == ["run_shell_command", "replace"]
    assert calls[0].input["command"] == "wc -l notes.txt" and "2 notes.txt" in calls[0].output
    assert calls[1].input["new_string"] == "Hello from bashgym"

    status = runner.invoke(app, ["hooks", "status", "--json"])
    report = json.loads(status.output)["agents"]["gemini"]
    assert report["events_total"] == len(lines) and report["sessions_seen"] == 1
    assert report["installed"]["user"]["events"] == sorted(report["expected_events"])

    removed = runner.invoke(app, ["hooks", "uninstall", "--agent", "gemini"])
    assert removed.exit_code == 0, removed.output
    assert json.loads(settings_file.read_text()) == user_settings
