"""`bashgym hooks install|uninstall|status` against real settings.json files in a temp HOME."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bashgym.capture.install import HOOK_EVENTS, HOOK_MARKER
from bashgym.cli import app

runner = CliRunner()

EXISTING = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "prettier --write"}]}],
        "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}],
    },
}


def settings(home: Path) -> dict:
    return json.loads((home / ".claude" / "settings.json").read_text())


def write_settings(home: Path, data: dict) -> None:
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    (home / ".claude" / "settings.json").write_text(json.dumps(data))


def test_install_keeps_existing_settings_and_hooks(isolated_home: Path) -> None:
    write_settings(isolated_home, EXISTING)
    result = runner.invoke(app, ["hooks", "install"])
    assert result.exit_code == 0, result.output
    data = settings(isolated_home)
    assert data["model"] == "opus" and data["permissions"] == EXISTING["permissions"]
    assert data["hooks"]["Notification"] == EXISTING["hooks"]["Notification"]
    post = data["hooks"]["PostToolUse"]
    assert post[0] == EXISTING["hooks"]["PostToolUse"][0]
    for event in HOOK_EVENTS:
        commands = [h["command"] for g in data["hooks"][event] for h in g["hooks"]]
        ours = [c for c in commands if HOOK_MARKER in c]
        assert len(ours) == 1, event
        assert ours[0].startswith(sys.executable + " -S ")  # absolute interpreter, no shim
    backups = list((isolated_home / ".claude").glob("settings.json.bashgym-backup-*"))
    assert len(backups) == 1 and json.loads(backups[0].read_text()) == EXISTING


def test_install_twice_equals_once(isolated_home: Path) -> None:
    runner.invoke(app, ["hooks", "install"])
    once = settings(isolated_home)
    result = runner.invoke(app, ["hooks", "install"])
    assert "already installed" in result.output
    assert settings(isolated_home) == once


def test_install_replaces_a_stale_bashgym_hook(isolated_home: Path) -> None:
    stale = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": f"/old/python -S /old/{HOOK_MARKER}"}]}]}}
    write_settings(isolated_home, stale)
    runner.invoke(app, ["hooks", "install"])
    commands = [h["command"] for g in settings(isolated_home)["hooks"]["Stop"] for h in g["hooks"]]
    assert len(commands) == 1 and commands[0].startswith(sys.executable)


def test_dry_run_prints_the_change_and_writes_nothing(isolated_home: Path) -> None:
    write_settings(isolated_home, EXISTING)
    result = runner.invoke(app, ["hooks", "install", "--dry-run"])
    assert result.exit_code == 0
    assert "+" in result.output and HOOK_MARKER in result.output
    assert settings(isolated_home) == EXISTING


def test_uninstall_removes_only_ours(isolated_home: Path) -> None:
    write_settings(isolated_home, EXISTING)
    runner.invoke(app, ["hooks", "install"])
    result = runner.invoke(app, ["hooks", "uninstall"])
    assert result.exit_code == 0 and "removed" in result.output
    assert settings(isolated_home) == EXISTING


def test_project_install_writes_the_repo_settings(isolated_home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["hooks", "install", "--project"])
    assert result.exit_code == 0
    data = json.loads((tmp_path / ".claude" / "settings.json").read_text())
    assert set(data["hooks"]) == set(HOOK_EVENTS)
    assert not (isolated_home / ".claude" / "settings.json").exists()


def test_corrupt_settings_are_reported_with_line_and_left_alone(isolated_home: Path) -> None:
    (isolated_home / ".claude").mkdir()
    path = isolated_home / ".claude" / "settings.json"
    path.write_text('{\n  "model": "opus",\n  oops\n}')
    result = subprocess.run([sys.executable, "-m", "bashgym.cli", "hooks", "install"], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{path}:3" in result.stderr and "not valid JSON" in result.stderr
    assert path.read_text() == '{\n  "model": "opus",\n  oops\n}'


def test_status_reports_installed_events_counts_and_last_error(isolated_home: Path) -> None:
    from bashgym.capture.install import hook_script

    runner.invoke(app, ["hooks", "install"])
    for payload in (b'{"hook_event_name": "Stop", "session_id": "a"}', b"garbage",
                    b'{"hook_event_name": "PostToolUse", "session_id": "a"}'):
        subprocess.run([sys.executable, "-S", str(hook_script())], input=payload, check=True)
    result = runner.invoke(app, ["hooks", "status", "--json"])
    report = json.loads(result.output)
    assert report["installed"]["user"]["events"] == sorted(HOOK_EVENTS)
    assert report["events"] == {"PostToolUse": 1, "Stop": 1}
    assert report["sessions_seen"] == 1
    assert "not a JSON object" in report["last_error"]
    human = runner.invoke(app, ["hooks", "status"])
    assert "installed" in human.output and "PostToolUse" in human.output


def test_plugin_hooks_cover_the_same_events_as_settings_install() -> None:
    repo = Path(__file__).resolve().parents[1]
    hooks = json.loads((repo / "plugin" / "hooks" / "hooks.json").read_text())["hooks"]
    assert set(hooks) == set(HOOK_EVENTS)
    commands = {h["command"] for groups in hooks.values() for g in groups for h in g["hooks"]}
    assert commands == {'sh "${CLAUDE_PLUGIN_ROOT}/hooks/bashgym-hook.sh"'}
    manifest = json.loads((repo / "plugin" / ".claude-plugin" / "plugin.json").read_text())
    # Claude Code loads hooks/hooks.json by itself; naming it in the manifest too makes 2.1.197 report the
    # plugin as failed ("Duplicate hooks file detected"); tests/test_plugin_cli.py shows it with the real CLI.
    assert manifest["name"] == "bashgym" and "hooks" not in manifest
    market = json.loads((repo / ".claude-plugin" / "marketplace.json").read_text())
    assert market["plugins"][0]["source"] == "./plugin"


PLUGIN_HOOK = Path(__file__).resolve().parents[1] / "plugin" / "hooks" / "bashgym-hook.sh"
BARE_PATH = "/usr/bin:/bin"  # no bashgym-hook here: what a plugin user's agent may run with


def run_plugin_hook(payload: bytes) -> subprocess.CompletedProcess[bytes]:
    import os

    env = {"HOME": os.environ["HOME"], "BASHGYM_HOME": os.environ["BASHGYM_HOME"], "PATH": BARE_PATH}
    return subprocess.run(["sh", str(PLUGIN_HOOK)], input=payload, env=env, capture_output=True, timeout=30)


def test_plugin_hook_runs_the_recorded_interpreter_without_bashgym_on_path(isolated_home: Path) -> None:
    import shutil

    from bashgym.capture.install import hook_script

    assert shutil.which("bashgym-hook", path=BARE_PATH) is None
    result = runner.invoke(app, ["hooks", "install", "--plugin"])
    assert result.exit_code == 0, result.output
    assert sys.executable in result.output
    assert "BASHGYM_HOME=" not in result.output  # the record is where the hook looks
    assert not (isolated_home / ".claude" / "settings.json").exists()  # the plugin brings the hooks
    done = run_plugin_hook(b'{"hook_event_name": "UserPromptSubmit", "session_id": "s1", "prompt": "hi"}')
    assert done.returncode == 0 and done.stderr == b""
    lines = (isolated_home / ".bashgym" / "events" / "events.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["prompt"] == "hi"
    report = json.loads(runner.invoke(app, ["hooks", "status", "--json"]).output)
    assert report["plugin"]["hook_command"] == f"{sys.executable} -S {hook_script()}"
    assert report["plugin"]["hook_found"].startswith("recorded in")


def test_plugin_hook_without_bashgym_exits_0_and_says_what_to_run(isolated_home: Path) -> None:
    done = run_plugin_hook(b'{"hook_event_name": "Stop", "session_id": "s1"}')
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
    assert not (isolated_home / ".bashgym" / "events" / "events.jsonl").exists()
    report = json.loads(runner.invoke(app, ["hooks", "status", "--json"]).output)
    assert "bashgym-hook is not on PATH and no interpreter is recorded" in report["last_error"]
    assert "bashgym hooks install --plugin" in report["last_error"]
    # A recorded interpreter that was deleted since (a removed venv) is named as such.
    (isolated_home / ".bashgym" / "hook-command").write_text("/gone/venv/bin/python\n/gone/hook.py\n")
    run_plugin_hook(b'{"hook_event_name": "Stop", "session_id": "s1"}')
    report = json.loads(runner.invoke(app, ["hooks", "status", "--json"]).output)
    assert "names /gone/venv/bin/python, which is gone" in report["last_error"]


def test_hooks_install_plugin_with_another_home_says_claude_needs_it(isolated_home: Path) -> None:
    other = isolated_home / "elsewhere"
    result = runner.invoke(app, ["hooks", "install", "--plugin", "--home", str(other)])
    assert result.exit_code == 0, result.output
    assert (other / "hook-command").is_file()
    assert f"BASHGYM_HOME={other}" in result.output.replace("\n", "")


def test_hooks_install_plugin_refuses_project() -> None:
    result = runner.invoke(app, ["hooks", "install", "--plugin", "--project"])
    assert result.exit_code == 2 and "--plugin cannot be used with --project" in result.output


def test_gemini_install_writes_its_own_settings_with_ms_timeouts_and_leaves_claude_alone(isolated_home: Path) -> None:
    from bashgym.capture.install import GEMINI_EVENTS

    result = runner.invoke(app, ["hooks", "install", "--agent", "gemini"])
    assert result.exit_code == 0, result.output
    data = json.loads((isolated_home / ".gemini" / "settings.json").read_text())
    assert sorted(data["hooks"]) == sorted(GEMINI_EVENTS)
    [entry] = data["hooks"]["AfterTool"][0]["hooks"]
    assert data["hooks"]["AfterTool"][0]["matcher"] == "*" and "matcher" not in data["hooks"]["SessionStart"][0]
    assert entry["timeout"] == 10000 and entry["command"].endswith("--agent gemini") and HOOK_MARKER in entry["command"]
    assert not (isolated_home / ".claude" / "settings.json").exists()
    status = json.loads(runner.invoke(app, ["hooks", "status", "--json"]).output)
    assert status["agents"]["gemini"]["installed"]["user"]["events"] == sorted(GEMINI_EVENTS)
    assert status["agents"]["claude"]["installed"]["user"]["events"] == []


def test_gemini_project_install_and_bad_agent_or_plugin_combination(isolated_home: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["hooks", "install", "--agent", "gemini", "--project"]).exit_code == 0
    assert (tmp_path / ".gemini" / "settings.json").exists()
    bad = runner.invoke(app, ["hooks", "install", "--agent", "gemni"])
    assert bad.exit_code != 0 and "did you mean" in str(bad.exception) + bad.output
    plugin = runner.invoke(app, ["hooks", "install", "--agent", "gemini", "--plugin"])
    assert plugin.exit_code != 0 and "--plugin cannot be used with --agent gemini" in plugin.output


def test_hook_marks_another_agents_events_and_status_counts_them_apart(isolated_home: Path) -> None:
    from bashgym.capture.install import hook_command

    home = isolated_home / ".bashgym"
    for agent, event in (("claude", "Stop"), ("gemini", "BeforeAgent"), ("gemini", "AfterTool")):
        payload = json.dumps({"hook_event_name": event, "session_id": f"s-{agent}", "cwd": "/nonexistent"})
        subprocess.run(hook_command(home, agent), shell=True, input=payload.encode(), check=True, timeout=30)
    report = json.loads(runner.invoke(app, ["hooks", "status", "--json"]).output)
    assert report["agents"]["gemini"]["events"] == {"AfterTool": 1, "BeforeAgent": 1}
    assert report["agents"]["claude"]["events"] == {"Stop": 1} and report["events_total"] == 3


def test_copilot_install_writes_flat_entries_keeps_the_users_and_goes_back_out(isolated_home: Path, tmp_path: Path,
                                                                               monkeypatch) -> None:
    """Copilot CLI takes `{type, bash, timeoutSec}` entries straight under the event (no matcher groups); its home
    moves with COPILOT_HOME; --project writes the repo's .github/copilot/settings.json."""
    monkeypatch.setenv("COPILOT_HOME", str(tmp_path / "copilot-home"))
    theirs = {"model": "gpt-5", "hooks": {"PostToolUse": [{"type": "command", "bash": "lint.sh"}]}}
    settings = tmp_path / "copilot-home" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(theirs))
    assert runner.invoke(app, ["hooks", "install", "--agent", "copilot"]).exit_code == 0
    data = json.loads(settings.read_text())
    assert sorted(data["hooks"]) == sorted(HOOK_EVENTS) and data["model"] == "gpt-5"
    mine, ours = data["hooks"]["PostToolUse"]
    assert mine == {"type": "command", "bash": "lint.sh"}
    assert sorted(ours) == ["bash", "timeoutSec", "type"] and ours["bash"].endswith("--agent copilot")
    assert HOOK_MARKER in ours["bash"] and ours["timeoutSec"] == 10
    status = json.loads(runner.invoke(app, ["hooks", "status", "--json"]).output)["agents"]["copilot"]
    assert status["installed"]["user"] == {"path": str(settings), "events": sorted(HOOK_EVENTS)}
    assert runner.invoke(app, ["hooks", "uninstall", "--agent", "copilot"]).exit_code == 0
    assert json.loads(settings.read_text()) == theirs

    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["hooks", "install", "--agent", "copilot", "--project"]).exit_code == 0
    assert sorted(json.loads((tmp_path / ".github" / "copilot" / "settings.json").read_text())["hooks"]) == sorted(
        HOOK_EVENTS)


def test_qwen_install_uses_claudes_layout_in_qwen_home(isolated_home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QWEN_HOME", str(tmp_path / "qwen-home"))
    assert runner.invoke(app, ["hooks", "install", "--agent", "qwen"]).exit_code == 0
    data = json.loads((tmp_path / "qwen-home" / "settings.json").read_text())
    assert sorted(data["hooks"]) == sorted(HOOK_EVENTS)
    [entry] = data["hooks"]["PostToolUse"][0]["hooks"]
    assert data["hooks"]["PostToolUse"][0]["matcher"] == "*" and entry["timeout"] == 10  # seconds, as Qwen counts
    assert entry["command"].endswith("--agent qwen") and not (isolated_home / ".qwen").exists()
