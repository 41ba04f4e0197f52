"""Set a task up in a sandbox, run its reference solution, and run its tests for a verdict.

The tests never run beside the agent: `verify` ends every process of the episode first and runs them in a
fresh sandbox process over the files the agent left (`Sandbox.run_fresh`), Harbor's `environment_mode =
"separate"`. So nothing the agent started, read or planted (a background writer, a saved fd, a function
body, a symlinked /logs) reaches the verdict.

A verdict is "pass", "fail" or "no_score". "no_score" means the infrastructure failed (the sandbox would
not start or died, a Harbor test wrote no reward file, the task needs /app but only a weak sandbox layer is
available, the machine was too slow); it is retried, and if it persists it is reported as no score, never as
reward 0: `Verdict.reward` is None then.

A timeout is not by itself the machine's fault: `gym/cpu_budget.py` reads what the timed-out processes got
from the kernel. Starved of CPU by other work, it is "infra: the machine was too slow" (no score, retried once
with `SLOW_RETRY_SCALE` times the budget); sleeping, blocked, or spinning through the budget, it is the task's
(fail). A hang cannot buy a no score.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import asdict, dataclass, field, replace

from bashgym.gym.cpu_budget import MACHINE, describe, timeout_cause
from bashgym.gym.sandbox import CommandResult, Limits, Sandbox, SandboxError, read_ctrf, read_reward
from bashgym.gym.task import Task

PASS, FAIL, NO_SCORE = "pass", "fail", "no_score"
SLOW_MACHINE = "infra: the machine was too slow"
SLOW_RETRY_SCALE = 3.0


@dataclass
class Verdict:
    """The outcome of a task's tests. ``reward`` is 1.0/0.0 from an exit code, the number a Harbor test
    wrote, or None for no_score; ``reason`` says why when it is not a plain pass; ``tests`` holds the
    per-test results ({"name", "status"}) of a /logs/verifier/ctrf.json the tests wrote."""

    status: str
    reward: float | None
    output: str = ""
    exit_code: int | None = None
    attempts: int = 1
    duration_s: float = 0.0
    reason: str = ""
    tests: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict:
        return asdict(self)


def task_limits(task: Task, limits: Limits | None = None) -> Limits:
    """`limits` (default: `Limits()`) with the task's own bounds applied (its disk size)."""
    limits = limits or Limits()
    return replace(limits, disk_mb=task.disk_mb) if task.disk_mb else limits


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
    """Run the task's tests in `sandbox` (the episode's, after the agent is done); retry no_score. A run the
    machine was too slow for is retried once, with `SLOW_RETRY_SCALE` times the time budget."""
    start = time.monotonic()
    verdict = Verdict(NO_SCORE, None, reason="not run")
    scale, slow = 1.0, 0
    for attempt in range(1, retries + 2):
        verdict = _verify_once(task, sandbox, budget=task.test_timeout_s * scale)
        verdict.attempts = attempt
        if verdict.status != NO_SCORE or verdict.reason.startswith("unsupported:"):
            break
        if verdict.reason.startswith(SLOW_MACHINE):
            slow += 1
            if slow > 1:
                break
            scale *= SLOW_RETRY_SCALE
    verdict.duration_s = time.monotonic() - start
    return verdict


def timed_out(what: str, result: CommandResult, budget: float) -> Verdict:
    """A timeout as a verdict: no score when the machine starved `what` of CPU, else a failure."""
    usage = result.usage
    if usage is not None and timeout_cause(usage, result.duration_s, budget) == MACHINE:
        return Verdict(NO_SCORE, None, result.output, result.exit_code,
                       reason=f"{SLOW_MACHINE}: {what} got {describe(usage, result.duration_s)} "
                              f"(budget {budget:g}s)")
    detail = f" ({describe(usage, result.duration_s)})" if usage is not None else ""
    return Verdict(FAIL, 0.0, result.output, result.exit_code, reason=f"{what} timed out after {budget:g}s{detail}")


def _verify_once(task: Task, sandbox: Sandbox, *, budget: float) -> Verdict:
    """One run of the tests in a fresh sandbox process (`Sandbox.run_fresh`): the agent is dead by then, the
    tests see the workspace as the agent left it, and the verdict is that process's exit code (or, for
    Harbor tasks, the reward file it wrote into a /logs the agent never saw)."""
    if task.needs:
        return Verdict(NO_SCORE, None, reason=f"unsupported: task {task.id} {task.needs} (the host lacks them)")
    if task.needs_app and sandbox.layer != "bubblewrap":
        return Verdict(NO_SCORE, None, reason=f"unsupported: task {task.id} uses /app, /tests or /logs, which "
                       f"only the bubblewrap layer provides (active layer: {sandbox.layer})")
    logs_fd = None
    try:
        if task.tests is not None:
            sandbox.stage(task.tests, "tests")
        if task.test_command:
            command = task.test_command
        elif task.format == "terminal-bench":
            where = sandbox.stage(task.path / task.test_script, "runner")
            command = f"bash {shlex.quote(f'{where}/{task.test_script}')}"
        else:
            command = f"bash {shlex.quote(f'{sandbox.tests_dir}/{task.test_script}')}"
        result, logs_fd = sandbox.run_fresh(command, timeout=budget)
        reward, why = read_reward(logs_fd) if task.reward_file and logs_fd is not None else (None, "")
        tests, _ = read_ctrf(logs_fd) if logs_fd is not None else ([], "")
    except SandboxError as exc:
        return Verdict(NO_SCORE, None, reason=f"sandbox failed: {exc}")
    finally:
        if logs_fd is not None:
            os.close(logs_fd)
        sandbox.unstage("tests")
        sandbox.unstage("runner")
    if result.timed_out and (not task.reward_file or reward is None):
        return replace(timed_out("the tests", result, budget), tests=tests)
    failed = [t["name"] for t in tests if t["status"] in ("failed", "error")]
    failing = f" (failed: {', '.join(failed[:10])}{', ...' if len(failed) > 10 else ''})" if failed else ""
    if task.reward_file:
        if reward is None:
            return Verdict(NO_SCORE, None, result.output, result.exit_code, reason=why, tests=tests)
        status = PASS if reward >= 1.0 - 1e-9 else FAIL
        return Verdict(status, reward, result.output, result.exit_code,
                       reason="" if status == PASS else f"reward {reward:g} < 1{failing}", tests=tests)
    if result.exit_code == 0:
        return Verdict(PASS, 1.0, result.output, 0, tests=tests)
    return Verdict(FAIL, 0.0, result.output, result.exit_code,
                   reason=f"the tests exited with {result.exit_code}{failing}", tests=tests)
