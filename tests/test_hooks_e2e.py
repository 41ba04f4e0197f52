"""Live capture from the real agent CLIs (the locked versions), each headless against its scripted API server on
127.0.0.1: `bashgym hooks install --agent X` merges bashgym's hook into the user's own config (keeping what is
there, with a backup; `--dry-run` writes nothing; a second install changes nothing), the CLI fires it on its own
events while it runs a shell command (and edits a file), the hook logs them marked as that agent's, and the
detached ingest imports the session after the turn — no `bashgym import` is run. `hooks status` counts the
events per agent; `uninstall` takes only bashgym's entries out again.

- Gemini CLI: hooks in ~/.gemini/settings.json; AfterAgent names the chat file.
- Codex CLI: bashgym's hook is Codex's `notify` program (~/.codex/config.toml); a `notify` of the user's own is
  never replaced.
- Qwen Code: hooks in ~/.qwen/settings.json, Claude Code's events and payloads; Stop names the chat file.
- GitHub Copilot CLI: flat hook entries in ~/.copilot/settings.json; with PascalCase event names the payloads
  are Claude-style, and Stop names the session's events.jsonl.

The `live` fixture holds what every agent's test shares: the work directory, the install checks, the event
log, waiting for the detached ingest, status and uninstall.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.store import Store  # noqa: E402

runner = CliRunner()
NOTES = "line one\nTODO: greet\n"


@dataclass
class Live:
    """One agent's live-capture run: where bashgym writes, the agent's work directory, and the shared checks."""

    bashgym_home: Path
    work: Path

    @property
    def env(self) -> dict[str, str]:
        """What the agent must pass on to the hook, so the detached ingest runs this checkout's code."""
        return {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}

    def install(self, agent: str, config: Path, dry_run_shows: str) -> None:
        """--dry-run shows the change and writes nothing; install writes it with a backup; again changes nothing."""
        before = config.read_text()
        dry = runner.invoke(app, ["hooks", "install", "--agent", agent, "--dry-run"])
        assert dry.exit_code == 0 and dry_run_shows in dry.output, dry.output
        assert config.read_text() == before
        installed = runner.invoke(app, ["hooks", "install", "--agent", agent, "--home", str(self.bashgym_home)])
        assert installed.exit_code == 0, installed.output
        assert list(config.parent.glob(f"{config.name}.bashgym-backup-*"))
        merged = config.read_text()
        again = runner.invoke(app, ["hooks", "install", "--agent", agent, "--home", str(self.bashgym_home)])
        assert "already installed" in again.output and config.read_text() == merged

    def events(self, agent: str) -> list[dict]:
        """The hook's event log: every line marked as `agent`'s (Claude's carry no mark)."""
        lines = [json.loads(x) for x in (self.bashgym_home / "events" / "events.jsonl").read_text().splitlines()]
        assert lines and all(e.get("_bashgym_agent") == agent for e in lines)
        assert not (self.bashgym_home / "events" / "errors.log").exists()
        return lines

    def imported(self, source: str, timeout: float = 60):
        """The one session the detached ingest imported (it runs after the turn, off the agent's path)."""
        deadline = time.monotonic() + timeout
        while True:
            with Store.open() as store:
                found = store.list_sessions(source=source)
                if found or time.monotonic() > deadline:
                    assert len(found) == 1, found
                    return store.get_session(found[0]["id"])
            time.sleep(0.3)

    def status(self, agent: str) -> dict:
        status = runner.invoke(app, ["hooks", "status", "--json"])
        assert status.exit_code == 0, status.output
        return json.loads(status.output)["agents"][agent]

    def uninstall(self, agent: str) -> None:
        removed = runner.invoke(app, ["hooks", "uninstall", "--agent", agent])
        assert removed.exit_code == 0, removed.output


@pytest.fixture
def live(isolated_home: Path, tmp_path: Path) -> Live:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text(NOTES)
    return Live(Path(os.environ["BASHGYM_HOME"]), work)


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.slow
def test_gemini_hook_captures_a_real_session_live(isolated_home: Path, live: Live) -> None:
    from harness.gemini_cli import SETTINGS, gemini_bin, run_gemini
    from harness.gemini_server import ScriptedGeminiServer, function_call, say, usage

    gemini = gemini_bin()
    assert gemini is not None, "npm is needed to install the Gemini CLI"
    prompt, final = "[GH1] Count the lines of notes.txt, then replace the TODO with a greeting.", "notes.txt greets."
    user_hook = {"matcher": "write_file", "hooks": [{"type": "command", "command": "true", "name": "mine"}]}
    user_settings = {**SETTINGS, "hooks": {"AfterTool": [user_hook]}}
    settings = write_json(isolated_home / ".gemini" / "settings.json", user_settings)
    live.install("gemini", settings, "AfterAgent")
    merged = json.loads(settings.read_text())
    assert merged["security"] == SETTINGS["security"] and merged["hooks"]["AfterTool"][0] == user_hook

    script = [function_call("run_shell_command", {"command": "wc -l notes.txt"}, usage(100, 10)),
              function_call("replace", {"file_path": str(live.work / "notes.txt"), "old_string": "TODO: greet",
                                        "new_string": "Hello from bashgym", "instruction": "Greet."}, usage(110, 10)),
              say(final, usage(120, 5))]
    with ScriptedGeminiServer(script) as server:
        result = run_gemini(gemini, prompt, home=isolated_home, cwd=live.work, base_url=server.url,
                            model="gemini-scripted-1", extra_env=live.env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (live.work / "notes.txt").read_text() == "line one\nHello from bashgym\n"

    lines = live.events("gemini")
    names = [e["hook_event_name"] for e in lines]
    assert names[0] == "SessionStart" and names.count("AfterTool") == 2 and "AfterAgent" in names
    assert "SessionEnd" in names and "BeforeAgent" in names
    assert {e["session_id"] for e in lines} == {json.loads(result.stdout)["session_id"]}
    after = next(e for e in lines if e["hook_event_name"] == "AfterAgent")
    assert Path(after["transcript_path"]).is_file()

    session = live.imported("gemini")
    assert [t.prompt for t in session.turns] == [prompt]
    calls = session.turns[0].tool_calls
    assert [c.tool_name for c in calls] == ["run_shell_command", "replace"]
    assert calls[0].input["command"] == "wc -l notes.txt" and "2 notes.txt" in calls[0].output
    assert calls[1].input["new_string"] == "Hello from bashgym"

    report = live.status("gemini")
    assert report["events_total"] == len(lines) and report["sessions_seen"] == 1
    assert report["installed"]["user"]["events"] == sorted(report["expected_events"])
    live.uninstall("gemini")
    assert json.loads(settings.read_text()) == user_settings


@pytest.mark.slow
def test_codex_notify_captures_a_real_session_live(isolated_home: Path, live: Live) -> None:
    from harness.codex_cli import CODEX_PACKAGE, codex_env, npm_bin, write_config
    from harness.responses_server import ScriptedResponsesServer, exec_command, say

    codex = npm_bin(CODEX_PACKAGE, "codex")
    assert codex is not None, "npm is needed to install the Codex CLI"
    prompt, final = "[CH1] Count the lines of notes.txt.", "notes.txt has 2 lines."
    with ScriptedResponsesServer({"[CH1]": [[exec_command("wc -l notes.txt")], [say(final)]]}) as server:
        config = write_config(isolated_home, server.url)
        user_config = config.read_text()
        live.install("codex", config, "+notify = [")
        merged = tomllib.loads(config.read_text())
        assert merged["model_providers"] == tomllib.loads(user_config)["model_providers"]
        assert merged["notify"][-2:] == ["--agent", "codex"]
        result = subprocess.run([str(codex), "exec", "--json", "--skip-git-repo-check",
                                 "--dangerously-bypass-approvals-and-sandbox", prompt], cwd=live.work,
                                env={**codex_env(isolated_home), **live.env}, capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    thread = json.loads(result.stdout.splitlines()[0])["thread_id"]

    session = live.imported("codex")
    [event] = live.events("codex")
    assert (event["hook_event_name"], event["session_id"]) == ("agent-turn-complete", thread)
    assert event["input-messages"] == [prompt] and event["last-assistant-message"] == final
    assert [t.prompt for t in session.turns] == [prompt]
    [call] = session.turns[0].tool_calls
    assert "wc -l notes.txt" in json.dumps(call.input) and call.output.strip().endswith("2 notes.txt")

    report = live.status("codex")
    assert report["events"] == {"agent-turn-complete": 1}
    assert report["installed"]["user"]["events"] == ["agent-turn-complete"]
    live.uninstall("codex")
    assert config.read_text() == user_config


def test_codex_install_never_replaces_the_users_own_notify(isolated_home: Path) -> None:
    config = isolated_home / ".codex" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('notify = ["notify-send", "codex"]\nmodel = "o3"\n')
    result = runner.invoke(app, ["hooks", "install", "--agent", "codex"])
    assert result.exit_code != 0 and "notify is already set" in str(result.exception)
    assert config.read_text() == 'notify = ["notify-send", "codex"]\nmodel = "o3"\n'
    broken = runner.invoke(app, ["hooks", "install", "--agent", "codex", "--project"])
    assert broken.exit_code != 0 and "--project cannot be used with --agent codex" in broken.output


@pytest.mark.slow
def test_qwen_hook_captures_a_real_session_live(isolated_home: Path, live: Live) -> None:
    from harness.chat_stream_server import ScriptedChatStreamServer, say, tool_call, usage
    from harness.make_qwen_fixtures import WC
    from harness.qwen_cli import SETTINGS, qwen_command, run_qwen

    qwen = qwen_command()
    assert qwen is not None, "npm is needed to install Qwen Code"
    prompt, final = "[QH1] Count the lines of notes.txt and add hello.txt.", "notes.txt has 2 lines."
    user_hook = {"matcher": "write_file", "hooks": [{"type": "command", "command": "true", "name": "mine"}]}
    user_settings = {**SETTINGS, "hooks": {"PostToolUse": [user_hook]}}
    settings = write_json(isolated_home / ".qwen" / "settings.json", user_settings)
    live.install("qwen", settings, "UserPromptSubmit")
    merged = json.loads(settings.read_text())
    assert merged["telemetry"] == SETTINGS["telemetry"] and merged["hooks"]["PostToolUse"][0] == user_hook

    script = [tool_call("run_shell_command", {"command": WC, "is_background": False}, "call_wc", usage(100, 10)),
              tool_call("write_file", {"file_path": str(live.work / "hello.txt"), "content": "hi\n"}, "call_write",
                        usage(110, 10)),
              say(final, usage(120, 5))]
    with ScriptedChatStreamServer(script) as server:
        result = run_qwen(qwen, prompt, home=isolated_home, cwd=live.work, base_url=server.url,
                          model="qwen-scripted-1", extra_env=live.env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (live.work / "hello.txt").read_text() == "hi\n"

    lines = live.events("qwen")
    names = [e["hook_event_name"] for e in lines]
    assert names[0] == "SessionStart" and names.count("PostToolUse") == 2 and names[-1] == "Stop"
    assert "UserPromptSubmit" in names
    session_id = json.loads(result.stdout)[-1]["session_id"]
    assert {e["session_id"] for e in lines} == {session_id}
    stop = next(e for e in lines if e["hook_event_name"] == "Stop")
    assert Path(stop["transcript_path"]).is_file() and stop["last_assistant_message"] == final

    session = live.imported("qwen")
    assert session.id == session_id and [t.prompt for t in session.turns] == [prompt]
    wc, write = session.turns[0].tool_calls
    assert (wc.input["command"], wc.exit_code) == (WC, 0) and "2 notes.txt" in wc.output
    assert write.input["content"] == "hi\n" and not write.is_error

    report = live.status("qwen")
    assert report["events_total"] == len(lines) and report["sessions_seen"] == 1
    assert report["installed"]["user"]["events"] == sorted(report["expected_events"])
    live.uninstall("qwen")
    left = json.loads(settings.read_text())
    assert left.pop("$version", 4) == 4  # Qwen Code itself stamps its settings schema version on the file
    assert left == user_settings


@pytest.mark.slow
def test_copilot_hook_captures_a_real_session_live(isolated_home: Path, live: Live) -> None:
    from harness.chat_stream_server import ScriptedChatStreamServer, say, tool_call, usage
    from harness.copilot_cli import copilot_bin, run_copilot

    copilot = copilot_bin()
    assert copilot is not None, "npm is needed to install the GitHub Copilot CLI"
    prompt, final = "[PH1] Count the lines of notes.txt, then replace the TODO with a greeting.", "It greets."
    user_hook = {"type": "command", "bash": "true", "timeoutSec": 5}  # the user's own, in Copilot's camelCase
    user_settings = {"banner": "never", "hooks": {"postToolUse": [user_hook], "PostToolUse": [user_hook]}}
    settings = write_json(isolated_home / ".copilot" / "settings.json", user_settings)
    live.install("copilot", settings, '"bash": ')
    merged = json.loads(settings.read_text())
    assert merged["banner"] == "never" and merged["hooks"]["postToolUse"] == [user_hook]
    mine, ours = merged["hooks"]["PostToolUse"]
    assert mine == user_hook and ours["timeoutSec"] == 10 and ours["bash"].endswith("--agent copilot")

    notes = str(live.work / "notes.txt")
    script = [tool_call("bash", {"command": "wc -l notes.txt", "description": "Count"}, "call_wc", usage(100, 10)),
              tool_call("edit", {"path": notes, "old_str": "TODO: greet", "new_str": "Hello from bashgym"},
                        "call_edit", usage(110, 10)),
              say(final, usage(120, 5))]
    with ScriptedChatStreamServer(script) as server:
        result = run_copilot(copilot, prompt, home=isolated_home, cwd=live.work, base_url=server.url,
                             model="copilot-scripted-1", extra_env=live.env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (live.work / "notes.txt").read_text() == "line one\nHello from bashgym\n"

    lines = live.events("copilot")
    names = [e["hook_event_name"] for e in lines]
    # The CLI starts the SessionStart and UserPromptSubmit hooks together: either may log first.
    assert sorted(names[:2]) == ["SessionStart", "UserPromptSubmit"] and names.count("PostToolUse") == 2
    assert names[-2:] == ["Stop", "SessionEnd"]
    session_id = json.loads(result.stdout.splitlines()[-1])["sessionId"]
    assert {e["session_id"] for e in lines} == {session_id}
    stop = next(e for e in lines if e["hook_event_name"] == "Stop")
    assert Path(stop["transcript_path"]).name == "events.jsonl" and Path(stop["transcript_path"]).is_file()

    session = live.imported("copilot")
    assert session.id == session_id and [t.prompt for t in session.turns] == [prompt]
    wc, edit = session.turns[0].tool_calls
    assert (wc.input["command"], wc.output, wc.exit_code) == ("wc -l notes.txt", "2 notes.txt\n", 0)
    assert edit.input["new_str"] == "Hello from bashgym" and "+Hello from bashgym" in edit.meta["file_diff"]

    report = live.status("copilot")
    assert report["events_total"] == len(lines) and report["sessions_seen"] == 1
    assert report["installed"]["user"]["events"] == sorted(report["expected_events"])
    live.uninstall("copilot")
    assert json.loads(settings.read_text()) == user_settings
