"""Set a task up in a sandbox, run its reference solution, and run its tests for a verdict.

A verdict is "pass", "fail" or "no_score". "no_score" means the infrastructure failed (the sandbox would
not start or died, the test script timed out without a word, a Harbor test wrote no reward file, the task
needs /app but only a weak sandbox layer is available); it is retried, and if it persists it is reported
as no score, never as reward 0: `Verdict.reward` is None then.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass

from bashgym.gym.sandbox import CommandResult, Sandbox, SandboxError
from bashgym.gym.task import Task

PASS, FAIL, NO_SCORE = "pass", "fail", "no_score"


@dataclass
class Verdict:
    """The outcome of a task's tests. ``reward`` is 1.0/0.0 from an exit code, the number a Harbor test
    wrote, or None for no_score; ``reason`` says why when it is not a plain pass."""

    status: str
    reward: float | None
    output: str = ""
    exit_code: int | None = None
    attempts: int = 1
    duration_s: float = 0.0
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict:
        return asdict(self)


def prepare(task: Task, sandbox: Sandbox) -> CommandResult | None:
    """Lay the task's files into the workspace and run its setup script (hidden from the agent afterwards).
    Raises SandboxError when setup fails: a broken task is an infrastructure problem, not the agent's."""
    for src, dest in task.copies:
        sandbox.copy_in(src, dest)
    if task.setup is None:
        return None
    where = sandbox.stage(task.setup, "setup")
    result = sandbox.run_script(f"{where}/{task.setup.name}", timeout=task.test_timeout_s)
    sandbox.unstage("setup")
    if result.exit_code != 0:
        raise SandboxError(f"setup of task {task.id} failed (exit {result.exit_code}): {result.output[-2000:]}")
    return result


def run_solution(task: Task, sandbox: Sandbox) -> CommandResult:
    """Run the task's reference solution in the workspace (what `bashgym gym check` proves passes)."""
    if task.solution is None:
        raise SandboxError(f"task {task.id} has no reference solution ({task.path})")
    where = sandbox.stage(task.solution.parent if task.format == "harbor" else task.solution, "solution")
    result = sandbox.run_script(f"{where}/{task.solution.name}", timeout=task.timeout_s)
    sandbox.unstage("solution")
    return result


def verify(task: Task, sandbox: Sandbox, *, retries: int = 2) -> Verdict:
    """Run the task's tests in `sandbox` (the episode's, after the agent is done); retry no_score."""
    start = time.monotonic()
    verdict = Verdict(NO_SCORE, None, reason="not run")
    for attempt in range(1, retries + 2):
        verdict = _verify_once(task, sandbox)
        verdict.attempts = attempt
        if verdict.status != NO_SCORE or verdict.reason.startswith("unsupported:"):
            break
    verdict.duration_s = time.monotonic() - start
    return verdict


def _verify_once(task: Task, sandbox: Sandbox) -> Verdict:
    if task.needs_app and sandbox.layer != "bubblewrap":
        return Verdict(NO_SCORE, None, reason=f"unsupported: task {task.id} uses /app, /tests or /logs, which "
                       f"only the bubblewrap layer provides (active layer: {sandbox.layer})")
    try:
        if task.tests is not None:
            sandbox.stage(task.tests, "tests")
        logs = sandbox.reset_logs()
        if task.test_command:
            result = sandbox.run_clean(task.test_command, timeout=task.test_timeout_s)
        elif task.format == "terminal-bench":
            where = sandbox.stage(task.path / task.test_script, "runner")
            result = sandbox.run_script(f"{where}/{task.test_script}", timeout=task.test_timeout_s)
        else:
            result = sandbox.run_script(f"{sandbox.tests_dir}/{task.test_script}", timeout=task.test_timeout_s)
    except SandboxError as exc:
        return Verdict(NO_SCORE, None, reason=f"sandbox failed: {exc}")
    finally:
        sandbox.unstage("tests")
        sandbox.unstage("runner")
    if result.timed_out and not result.output.split("[bashgym:")[0].strip():
        return Verdict(NO_SCORE, None, result.output, result.exit_code,
                       reason=f"the tests timed out after {task.test_timeout_s:g}s without any output")
    if task.reward_file:
        reward, why = _read_reward(logs)
        if reward is None:
            return Verdict(NO_SCORE, None, result.output, result.exit_code, reason=why)
        status = PASS if reward >= 1.0 - 1e-9 else FAIL
        return Verdict(status, reward, result.output, result.exit_code,
                       reason="" if status == PASS else f"reward {reward:g} < 1")
    if result.exit_code == 0:
        return Verdict(PASS, 1.0, result.output, 0)
    why = "the tests timed out" if result.timed_out else f"the tests exited with {result.exit_code}"
    return Verdict(FAIL, 0.0, result.output, result.exit_code, reason=why)


def _read_reward(logs) -> tuple[float | None, str]:
    """Harbor's verdict: reward.txt (one number) or reward.json ({"reward": x} or a mapping of numbers,
    whose mean counts)."""
    txt, js = logs / "reward.txt", logs / "reward.json"
    try:
        if txt.is_file():
            value = float(txt.read_text().strip())
        elif js.is_file():
            data = json.loads(js.read_text())
            if isinstance(data, (int, float)):
                value = float(data)
            elif isinstance(data, dict) and isinstance(data.get("reward"), (int, float)):
                value = float(data["reward"])
            elif isinstance(data, dict) and data and all(isinstance(v, (int, float)) for v in data.values()):
                value = sum(data.values()) / len(data)
            else:
                return None, f"reward.json holds no number: {str(data)[:200]}"
        else:
            return None, "the tests wrote no /logs/verifier/reward.txt or reward.json"
    except (ValueError, OSError) as exc:
        return None, f"unreadable reward file: {exc}"
    if math.isnan(value):
        return None, "the reward file holds NaN"
    return value, ""
