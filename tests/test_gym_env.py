"""bashgym/BashTask-v1 through the Gymnasium API: registration, the env checker, rewards and endings."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import bashgym.gym  # noqa: F401  (registers the env id)
from bashgym.gym import ENV_ID
from bashgym.gym.env import SUBMIT, BashTaskEnv
from bashgym.gym.task import load_task

SOLVE_NESTED = "mkdir -p a/b/c && echo hello > a/b/c/hello.txt"


def test_env_passes_the_gymnasium_checker():
    env = gymnasium.make(ENV_ID, task="files-create-nested")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("ref", ["files-create-nested", "task", "path"])
def test_make_accepts_a_task_id_a_task_or_a_path(ref: str):
    task = load_task("files-create-nested")
    arg = {"files-create-nested": "files-create-nested", "task": task, "path": str(task.path)}[ref]
    env = gymnasium.make(ENV_ID, task=arg)
    obs, info = env.reset(seed=1)
    assert obs.startswith(task.instruction) and info["task_id"] == "files-create-nested"
    env.close()


def test_solving_then_submit_terminates_with_reward_one():
    env = gymnasium.make(ENV_ID, task="files-create-nested")
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(SOLVE_NESTED + " && cat a/b/c/hello.txt")
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert obs.endswith(f"$ {SOLVE_NESTED} && cat a/b/c/hello.txt\nhello\n") and info["exit_code"] == 0
    obs, reward, terminated, truncated, info = env.step(SUBMIT)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["status"] == "pass" and info["reward"] == 1.0
    env.close()


def test_empty_submit_scores_zero_and_failed_commands_show_their_exit_code():
    env = BashTaskEnv("files-create-nested")
    env.reset()
    obs, *_ = env.step("ls does-not-exist")
    assert "No such file or directory" in obs and obs.endswith("[exit code 2]\n")
    _, reward, terminated, _, info = env.step(SUBMIT)
    assert reward == 0.0 and terminated and info["status"] == "fail"
    with pytest.raises(RuntimeError, match="reset"):
        env.step("ls")
    env.close()


def test_step_limit_truncates_and_still_scores():
    env = BashTaskEnv("files-create-nested", max_steps=2)
    env.reset()
    assert env.step("mkdir -p a/b/c")[3] is False
    _, reward, terminated, truncated, info = env.step("echo hello > a/b/c/hello.txt")
    assert (terminated, truncated, reward, info["status"]) == (False, True, 1.0, "pass")
    env.close()


def test_time_limit_truncates():
    env = BashTaskEnv("files-create-nested", time_limit_s=1.0)
    env.reset()
    _, reward, terminated, truncated, info = env.step("sleep 5")
    assert truncated and not terminated and info["timed_out"] and reward == 0.0
    assert info["limits_hit"] == ["timeout", "wall_time"]  # what the rollout records
    env.close()


def test_verify_every_step_terminates_on_success_and_shaped_penalties_apply():
    env = BashTaskEnv("files-create-nested", verify_every_step=True, step_penalty=0.01, error_penalty=0.1)
    env.reset()
    _, reward, terminated, _, _ = env.step("false")
    assert reward == pytest.approx(-0.11) and not terminated
    _, reward, terminated, truncated, info = env.step(SOLVE_NESTED)
    assert terminated and not truncated and reward == pytest.approx(0.99) and info["status"] == "pass"
    env.close()


def test_infrastructure_failure_gives_nan_reward_and_no_score(tmp_path: Path):
    task_dir = tmp_path / "silent"
    (task_dir / "tests").mkdir(parents=True)
    (task_dir / "instruction.md").write_text("Do anything.\n")
    (task_dir / "tests" / "test.sh").write_text("#!/bin/bash\nexit 0\n")  # Harbor layout, no reward file
    env = BashTaskEnv(str(task_dir), verifier_retries=1)
    env.reset()
    _, reward, terminated, _, info = env.step(SUBMIT)
    assert math.isnan(reward) and terminated
    assert info["status"] == "no_score" and info["reward"] is None
    assert env.last_verdict is not None and env.last_verdict.attempts == 2
    env.close()


def test_reset_gives_a_fresh_workspace_and_can_switch_task():
    env = BashTaskEnv("files-create-nested")
    env.reset()
    env.step("echo leftover > junk.txt")
    env.reset()
    assert env.step("ls junk.txt")[4]["exit_code"] != 0
    obs, info = env.reset(options={"task": "text-awk-sum"})
    assert info["task_id"] == "text-awk-sum" and "qty" in obs
    env.close()


def test_observation_keeps_the_instruction_when_output_is_long():
    env = BashTaskEnv("files-create-nested", max_obs_chars=2000)
    obs, _ = env.reset()
    obs, *_ = env.step("seq 1 5000")
    assert len(obs) <= 2000 and obs.startswith("Create the directory") and obs.rstrip().endswith("5000")
    assert obs in env.observation_space
    env.close()


def test_gym_never_imports_eval():
    # eval/ depends on gym/ (through gym/protocol.py), never the reverse.
    import ast

    gym_dir = Path(bashgym.gym.__file__).parent
    offenders = []
    for path in gym_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n == "bashgym.eval" or n.startswith("bashgym.eval.")]
    assert offenders == []
