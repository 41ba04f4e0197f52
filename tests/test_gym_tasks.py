"""Every builtin task is sound (reference passes, empty attempt fails), and the three task layouts load
and run: bashgym, terminal-bench and Harbor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bashgym.errors import ConfigError, NotFoundError
from bashgym.gym.check import TaskCheck, attempt, check_tasks
from bashgym.gym.sandbox import Sandbox
from bashgym.gym.task import CATEGORIES, load_suite, load_task
from bashgym.gym.verifier import FAIL, NO_SCORE, PASS, prepare, verify

SUITE = load_suite("builtin")
GYM_FIXTURES = Path(__file__).parent / "fixtures" / "gym"


@pytest.fixture(scope="module")
def suite_checks() -> dict[str, TaskCheck]:
    # One concurrent pass over the whole suite (each task: two fresh sandboxes), shared by the cases below.
    workers = max(2, min(6, (os.cpu_count() or 2) * 2))
    checks = {c.task.id: c for c in check_tasks(SUITE, workers=workers)}
    # A task the machine was too slow to decide (gym check's "undecided") is checked again, alone.
    undecided = [c.task for c in checks.values() if c.infra]
    checks.update({c.task.id: c for c in check_tasks(undecided, workers=1)})
    return checks


def test_builtin_suite_has_at_least_40_tasks_in_every_category():
    assert len(SUITE) >= 40
    assert {t.category for t in SUITE} == set(CATEGORIES)
    assert len({t.id for t in SUITE}) == len(SUITE)
    for task in SUITE:
        assert task.solution is not None and (task.path / "tests" / "test.sh").is_file(), task.id


@pytest.mark.parametrize("task_id", [t.id for t in SUITE])
def test_builtin_task_reference_passes_and_empty_attempt_fails(task_id: str, suite_checks: dict[str, TaskCheck]):
    check = suite_checks[task_id]
    assert not check.infra, f"undecided twice, the machine was too slow: {check.infra}"
    assert check.reference.status == PASS, check.reference.output[-1500:] + check.reference.reason
    assert check.empty.status == FAIL, check.empty.reason
    assert check.ok


def test_load_task_accepts_an_id_or_a_path_and_suggests_close_ids():
    by_id = load_task("git-tag-release")
    assert by_id.path == load_task(by_id.path).path and by_id.category == "git"
    with pytest.raises(NotFoundError, match='did you mean "git-tag-release"'):
        load_task("git-tag-releas")


def test_bad_task_yaml_names_the_file_and_the_key(tmp_path: Path):
    task = tmp_path / "t"
    (task / "tests").mkdir(parents=True)
    (task / "tests" / "test.sh").write_text("true\n")
    (task / "task.yaml").write_text("id: t\ncategory: files\ninstruction: x\ntimeout: 3\n")
    with pytest.raises(ConfigError, match=r"task.yaml: unknown key 'timeout' \(did you mean \"timeout_s\"\?\)"):
        load_task(task)
    (task / "task.yaml").write_text("id: t\ncategory: filez\ninstruction: x\n")
    with pytest.raises(ConfigError, match='category \'filez\'.*did you mean "files"'):
        load_task(task)


def test_terminal_bench_task_lays_out_app_from_the_dockerfile_and_runs_pytest_offline():
    task = load_task(GYM_FIXTURES / "terminal-bench" / "csv-summary")
    assert task.format == "terminal-bench" and task.needs_app
    assert [(src.name, dest) for src, dest in task.copies] == [("sales.csv", "sales.csv")]
    assert "pytest" in (task.test_command or "")  # the uv/curl bootstrap is replaced: no network here
    solved = attempt(task, solve=True)
    assert solved.status == PASS and "2 passed" in solved.output
    empty = attempt(task, solve=False)
    assert empty.status == FAIL and "failed" in empty.output


def test_harbor_task_reward_txt_decides_not_the_exit_code():
    task = load_task(GYM_FIXTURES / "harbor" / "word-count")
    assert task.format == "harbor" and task.reward_file and task.test_timeout_s == 60
    assert attempt(task, solve=True).reward == 1.0
    empty = attempt(task, solve=False)
    assert empty.status == FAIL and empty.reward == 0.0 and empty.exit_code == 0


def test_harbor_reward_json_gives_partial_credit():
    task = load_task(GYM_FIXTURES / "harbor" / "json-reward")
    with Sandbox() as box:
        prepare(task, box)
        box.run("mkdir -p /app/out && echo alpha > /app/out/a.txt")
        verdict = verify(task, box)
    assert verdict.status == FAIL and verdict.reward == 0.5


def test_missing_reward_file_is_no_score_after_retries_never_zero(tmp_path: Path):
    task_dir = tmp_path / "silent"
    (task_dir / "tests").mkdir(parents=True)
    (task_dir / "instruction.md").write_text("Do anything.\n")
    (task_dir / "tests" / "test.sh").write_text("#!/bin/bash\necho 'verifier crashed before writing a reward'\n")
    task = load_task(task_dir)
    with Sandbox() as box:
        prepare(task, box)
        verdict = verify(task, box, retries=2)
    assert verdict.status == NO_SCORE and verdict.reward is None
    assert verdict.attempts == 3 and "reward.txt" in verdict.reason


def test_stale_reward_left_by_the_agent_does_not_count():
    task = load_task(GYM_FIXTURES / "harbor" / "word-count")
    with Sandbox() as box:
        prepare(task, box)
        box.run("mkdir -p /logs/verifier && echo 1 > /logs/verifier/reward.txt")
        assert verify(task, box).reward == 0.0


def test_agent_cannot_see_the_tests_or_the_solution_during_the_episode():
    task = load_task("debug-off-by-one")
    with Sandbox() as box:
        prepare(task, box)
        listing = box.run(f"ls -A {box.tests_dir} /solution; find /app /tmp /.bashgym /tests /solution "
                          "-name hidden_test.py -o -name solution.sh 2>/dev/null")
    assert "hidden_test.py" not in listing.output and "solution.sh" not in listing.output


@pytest.mark.parametrize("layer", ["unshare", "rlimits"])
def test_builtin_tasks_also_run_on_the_weaker_layers(layer: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BASHGYM_SANDBOX", layer)
    with pytest.warns(UserWarning, match="NO file-system isolation"):
        check = check_tasks([load_task("git-revert-bad"), load_task("proc-kill-pidfile")], workers=2)
    assert [c.ok for c in check] == [True, True], [c.problem for c in check]


def test_app_rooted_tasks_are_no_score_not_zero_without_bubblewrap(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BASHGYM_SANDBOX", "rlimits")
    with pytest.warns(UserWarning):
        verdict = attempt(load_task(GYM_FIXTURES / "harbor" / "word-count"), solve=False)
    assert verdict.status == NO_SCORE and verdict.reward is None and verdict.attempts == 1
    assert "only the bubblewrap layer provides" in verdict.reason
