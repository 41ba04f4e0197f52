"""Live capture from the real Codex CLI (npm `@openai/codex`, the locked version), headless against the scripted
Responses server on 127.0.0.1: `bashgym hooks install --agent codex` makes bashgym's hook Codex's `notify`
program in ~/.codex/config.toml (keeping the user's settings), Codex runs it after the turn with the event as
its last argument, the hook logs it as Codex's and the detached ingest finds and imports the thread's rollout —
no `bashgym import` is run. A `notify` of the user's own is never replaced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.codex_cli import CODEX_PACKAGE, codex_env, npm_bin, write_config  # noqa: E402
from harness.responses_server import ScriptedResponsesServer, exec_command, say  # noqa: E402

pytestmark = pytest.mark.slow
runner = CliRunner()

PROMPT = "[CH1] Count the lines of notes.txt."
FINAL = "notes.txt has 2 lines."


def wait_for_session(timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        with Store.open() as store:
            found = store.list_sessions(source="codex")
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_codex_notify_captures_a_real_session_live(isolated_home: Path, tmp_path: Path) -> None:
    codex = npm_bin(CODEX_PACKAGE, "codex")
    assert codex is not None, "npm is needed to install the Codex CLI"
    bashgym_home = Path(os.environ["BASHGYM_HOME"])
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    with ScriptedResponsesServer({"[CH1]": [[exec_command("wc -l notes.txt")], [say(FINAL)]]}) as server:
        config = write_config(isolated_home, server.url)
        user_config = config.read_text()
        dry = runner.invoke(app, ["hooks", "install", "--agent", "codex", "--dry-run"])
        assert dry.exit_code == 0 and "+notify = [" in dry.output and config.read_text() == user_config
        installed = runner.invoke(app, ["hooks", "install", "--agent", "codex", "--home", str(bashgym_home)])
        assert installed.exit_code == 0, installed.output
        merged = tomllib.loads(config.read_text())
        assert merged["model_providers"] == tomllib.loads(user_config)["model_providers"]
        assert merged["notify"][-2:] == ["--agent", "codex"] and list(config.parent.glob("config.toml.bashgym-backup-*"))
        again = runner.invoke(app, ["hooks", "install", "--agent", "codex", "--home", str(bashgym_home)])
        assert "already installed" in again.output

        env = {**codex_env(isolated_home), **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}
        result = subprocess.run([str(codex), "exec", "--json", "--skip-git-repo-check",
                                 "--dangerously-bypass-approvals-and-sandbox", PROMPT], cwd=work, env=env,
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    thread = json.loads(result.stdout.splitlines()[0])["thread_id"]

    [summary] = wait_for_session()
    lines = [json.loads(x) for x in (bashgym_home / "events" / "events.jsonl").read_text().splitlines()]
    [event] = lines
    assert (event["_bashgym_agent"], event["hook_event_name"], event["session_id"]) == (
        "codex", "agent-turn-complete", thread)
    assert event["input-messages"] == [PROMPT] and event["last-assistant-message"] == FINAL
    with Store.open() as store:
        session = store.get_session(summary["id"])
    assert [t.prompt for t in session.turns] == [PROMPT]
    [call] = session.turns[0].tool_calls
    assert "wc -l notes.txt" in json.dumps(call.input) and call.output.strip().endswith("2 notes.txt")
    assert not (bashgym_home / "events" / "errors.log").exists()

    status = json.loads(runner.invoke(app, ["hooks", "status", "--json"]).output)["agents"]["codex"]
    assert status["events"] == {"agent-turn-complete": 1} and status["installed"]["user"]["events"] == [
        "agent-turn-complete"]
    removed = runner.invoke(app, ["hooks", "uninstall", "--agent", "codex"])
    assert removed.exit_code == 0 and config.read_text() == user_config


def test_codex_install_never_replaces_the_users_own_notify(isolated_home: Path) -> None:
    config = isolated_home / ".codex" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('notify = ["notify-send", "codex"]\nmodel = "o3"\n')
    result = runner.invoke(app, ["hooks", "install", "--agent", "codex"])
    assert result.exit_code != 0 and "notify is already set" in str(result.exception)
    assert config.read_text() == 'notify = ["notify-send", "codex"]\nmodel = "o3"\n'
    broken = runner.invoke(app, ["hooks", "install", "--agent", "codex", "--project"])
    assert broken.exit_code != 0 and "--project cannot be used with --agent codex" in broken.output
