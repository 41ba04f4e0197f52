"""The bashgym plugin installed the way a user installs it, in the real Claude Code CLI (npm), headless.

`claude plugin marketplace add <this repo>` + `claude plugin install bashgym@bashgym`, then scripted sessions
against a Messages API on 127.0.0.1 with a PATH that lacks `bashgym-hook` (a plugin user's agent need not share
bashgym's venv). Settles two questions with the CLI itself: the manifest must not name hooks/hooks.json (the
CLI loads it by itself and reports the plugin as failed otherwise), and each hook event arrives exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.doctor import FAIL, OK, WARN, check_hooks  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.anthropic_server import ScriptedAnthropicServer, text, tool_use  # noqa: E402
from harness.claude_cli import CLAUDE_PACKAGE, claude_env, npm_bin, run_claude  # noqa: E402
from harness.make_claude_fixtures import run_scenario  # noqa: E402
from harness.npm_tools import locked_version  # noqa: E402
from harness.scenarios import SCENARIOS  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BARE_PATH = "/usr/bin:/bin"  # no bashgym-hook here


@pytest.fixture(scope="module")
def claude() -> Path:
    path = npm_bin(CLAUDE_PACKAGE, "claude")
    assert path is not None, "npm is required: the test installs @anthropic-ai/claude-code"
    # The findings below hold for the version tests/harness/package-lock.json pins (2.1.197 when written).
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version.startswith(locked_version(CLAUDE_PACKAGE)), version
    return path


def install_plugin(claude: Path, home: Path) -> dict:
    """Validate, add the marketplace, install; return the plugin's `claude plugin list --json` entry."""
    env = claude_env(home, "http://127.0.0.1:9")
    for args in (["plugin", "validate", str(REPO / "plugin")], ["plugin", "marketplace", "add", str(REPO)],
                 ["plugin", "install", "bashgym@bashgym"]):
        result = subprocess.run([str(claude), *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"claude {' '.join(args)}: {result.stdout}{result.stderr}"
    listed = subprocess.run([str(claude), "plugin", "list", "--json"], env=env, capture_output=True, text=True,
                            timeout=120, check=True)
    return next(p for p in json.loads(listed.stdout) if p["id"] == "bashgym@bashgym")


def bashgym(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", *args], capture_output=True, text=True, timeout=120)


def events(bashgym_home: Path) -> list[dict]:
    path = bashgym_home / "events" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_plugin_from_the_marketplace_loads_and_delivers_each_event_once(claude: Path, isolated_home: Path,
                                                                       tmp_path: Path) -> None:
    bashgym_home = Path(os.environ["BASHGYM_HOME"])
    entry = install_plugin(claude, isolated_home)
    assert entry["enabled"] is True and not entry.get("errors"), entry
    assert bashgym("hooks", "install", "--plugin").returncode == 0  # records this Python for the plugin's hook
    scenario = next(s for s in SCENARIOS if s.name == "fix_failing_test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", BARE_PATH)  # run_scenario passes the process's PATH to the CLI
        work, _ = run_scenario(claude, scenario, isolated_home, tmp_path / "work")
    assert "return a + b" in (work / "calc.py").read_text()  # the CLI really ran the tools

    names = Counter(e["hook_event_name"] for e in events(bashgym_home))
    # The failing test run arrives as PostToolUseFailure, the three other tool calls as PostToolUse.
    assert names == {"SessionStart": 1, "UserPromptSubmit": 1, "PostToolUse": 3, "PostToolUseFailure": 1,
                     "Stop": 1, "SessionEnd": 1}
    tool_ids = [e["tool_use_id"] for e in events(bashgym_home) if "tool_use_id" in e]
    assert len(tool_ids) == len(set(tool_ids)) == 4
    assert not (bashgym_home / "events" / "errors.log").exists()
    db = bashgym_home / "bashgym.db"

    def stored() -> bool:
        if not db.exists():
            return False
        with Store(db) as store:
            rows = store.list_sessions(project="fix_failing_test")
            return bool(rows) and rows[0]["n_tool_calls"] == 4

    assert wait_for(stored), "the plugin's Stop hook did not import the session"
    check = check_hooks()
    assert check.status == OK and "plugin bashgym@bashgym: recorded in" in check.detail, check

    # Hooks in settings.json as well as the plugin: the CLI runs both, so doctor must say so.
    assert bashgym("hooks", "install").returncode == 0
    before = len(events(bashgym_home))
    with ScriptedAnthropicServer({"[P2]": [[text("ok")]]}) as server:
        run_claude(claude, "[P2] hello", home=isolated_home, cwd=work, base_url=server.url,
                   env={"PATH": BARE_PATH})
    prompts = [e for e in events(bashgym_home)[before:] if e["hook_event_name"] == "UserPromptSubmit"]
    assert len(prompts) == 2 and prompts[0]["session_id"] == prompts[1]["session_id"]
    check = check_hooks()
    assert check.status == WARN and "installed twice" in check.detail and "hooks uninstall" in check.fix


def test_plugin_without_bashgym_on_path_leaves_the_agent_alone_and_doctor_says_why(
        claude: Path, isolated_home: Path, tmp_path: Path) -> None:
    bashgym_home = Path(os.environ["BASHGYM_HOME"])
    install_plugin(claude, isolated_home)
    work = tmp_path / "work"
    work.mkdir()
    script = {"[P3]": [[tool_use("Bash", {"command": "echo ran > out.txt", "description": "Write"})], [text("done")]]}
    with ScriptedAnthropicServer(script) as server:
        result = run_claude(claude, "[P3] write it", home=isolated_home, cwd=work, base_url=server.url,
                            env={"PATH": BARE_PATH})
    assert result.returncode == 0 and (work / "out.txt").read_text() == "ran\n"
    assert '"is_error":false' in result.stdout.replace(" ", "")
    assert events(bashgym_home) == []
    errors = (bashgym_home / "events" / "errors.log").read_text().splitlines()
    assert len(errors) == 5  # SessionStart, UserPromptSubmit, PostToolUse, Stop, SessionEnd: one note each
    check = check_hooks()
    assert check.status == FAIL, check
    assert "bashgym-hook is not on PATH and no interpreter is recorded" in check.detail
    assert check.fix.startswith("bashgym hooks install --plugin")
