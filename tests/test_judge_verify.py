"""`verify`: re-run the turn's final test command in a fresh clone at the recorded commit (real git, real
subprocess), replaying the agent's recorded edits, and store pass/fail as the strongest signal."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bashgym.errors import BashgymError, NotFoundError
from bashgym.judge.config import JudgeConfig
from bashgym.judge.runner import VERIFY, judge_session
from bashgym.judge.verify import final_test_command, verify_turn
from bashgym.schema import Session, Step, Turn

TEST = "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n" \
       "        self.assertEqual(add(2, 3), 5)\n\nif __name__ == '__main__':\n    unittest.main()\n"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(TEST)
    git("init", "-q", cwd=root)
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".", cwd=root)
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "buggy add", cwd=root)
    return root, git("rev-parse", "HEAD", cwd=root)


def session_for(root: Path, commit: str | None, new: str = "return a + b") -> Session:
    test_cmd = "python3 -m unittest -q test_calc"
    steps = [
        Step(kind="tool_call", tool_name="Bash", input={"command": test_cmd}, exit_code=1,
             output="F\n----------------------------------------------------------------------\nRan 1 test in 0.000s\n\nFAILED (failures=1)"),
        Step(kind="tool_call", tool_name="Edit", output="The file has been updated.",
             input={"file_path": str(root / "calc.py"), "old_string": "return a - b", "new_string": new}),
        Step(kind="tool_call", tool_name="Bash", input={"command": f"cd {root} && {test_cmd}"}, exit_code=0,
             output="----------------------------------------------------------------------\nRan 1 test in 0.000s\n\nOK"),
        Step(kind="message", text="Fixed add(); the test passes."),
    ]
    return Session("v-1", "claude_code", cwd=str(root), git_commit=commit, turns=[Turn(0, "fix add", steps)])


def test_verify_replays_the_edit_and_passes_without_touching_the_repo(repo: tuple[Path, str]) -> None:
    root, commit = repo
    result = verify_turn(session_for(root, commit))
    assert result.passed and result.exit_code == 0
    assert (result.turn_idx, result.step_idx, result.replayed_edits, result.skipped_edits) == (0, 2, 1, 0)
    assert result.summary.startswith("Ran 1 tests: OK") and result.runner.startswith("sandbox (")
    assert (root / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"  # the user's repo is untouched


def test_verify_without_replay_runs_the_recorded_commit_as_is(repo: tuple[Path, str]) -> None:
    root, commit = repo
    result = verify_turn(session_for(root, commit), replay=False, sandbox=False)
    assert not result.passed and "FAILED" in result.output_tail and result.runner == "subprocess"


def test_verify_command_stores_the_result_and_rescores(store, repo: tuple[Path, str]) -> None:
    from typer.testing import CliRunner

    from bashgym.cli import app

    root, commit = repo
    store.save_session(session_for(root, commit))
    out = CliRunner().invoke(app, ["verify", "v-1:0", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["passed"] and data["turn_tier"] == "gold"
    row = store.scores("v-1", VERIFY)[0]
    assert (row["turn_idx"], row["total"]) == (0, 1.0) and "passed" in row["metrics"]["note"]


def test_failed_verify_is_stored_and_caps_the_turn(store, repo: tuple[Path, str]) -> None:
    root, commit = repo
    session = session_for(root, commit, new="return a * b")  # the agent's claimed fix is wrong
    store.save_session(session)
    before, _ = judge_session(store, session.id, JudgeConfig())
    assert before.tier == "gold"  # the trace alone looks fine
    result = verify_turn(session)
    assert not result.passed
    store.put_score(session.id, result.turn_idx, VERIFY, 0.0, None, result.to_store())
    after, turns = judge_session(store, session.id, JudgeConfig())
    assert turns[0].tier == "failed" and "verified" in turns[0].drivers
    assert "re-ran `cd" in turns[0].metrics["verified"].note


def test_verify_needs_a_commit_and_names_the_flag(repo: tuple[Path, str]) -> None:
    root, _ = repo
    with pytest.raises(BashgymError, match="--commit"):
        verify_turn(session_for(root, None))
    assert verify_turn(session_for(root, None), commit="HEAD").passed


def test_verify_reports_a_missing_repository(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not on this machine"):
        verify_turn(session_for(tmp_path / "gone", "abc"))


def test_final_test_command_picks_the_last_test_run() -> None:
    s = session_for(Path("/r"), "x")
    assert final_test_command(s) == (0, 2, "cd /r && python3 -m unittest -q test_calc")
    with pytest.raises(NotFoundError, match="no turn 5"):
        final_test_command(s, 5)
    s.turns[0].steps = [Step(kind="message", text="hi")]
    with pytest.raises(BashgymError, match="v-1: no turn ran a test command, so there is nothing to re-run"):
        final_test_command(s)
    with pytest.raises(BashgymError, match="v-1: turn 0 ran no test command"):
        final_test_command(s, 0)
