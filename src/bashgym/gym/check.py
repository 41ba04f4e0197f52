"""Prove tasks are well-formed: the reference solution passes and an empty attempt fails, in the sandbox.

Each attempt gets its own fresh sandbox; tasks run concurrently (threads: the work is in subprocesses).
A task the machine was too slow to decide (gym/cpu_budget.py: its processes were starved of CPU, even on a
retry with a larger budget) is reported as undecided (`infra`), never as broken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from bashgym.gym.sandbox import Limits, Sandbox, SandboxError
from bashgym.gym.task import Task
from bashgym.gym.verifier import (
    FAIL,
    NO_SCORE,
    PASS,
    SLOW_MACHINE,
    SLOW_RETRY_SCALE,
    Verdict,
    prepare,
    run_solution,
    task_limits,
    timed_out,
    verify,
)


@dataclass
class TaskCheck:
    """``reference``/``empty``: the verdicts of the solution and of doing nothing; ``problem`` is empty
    when the task is sound (reference passes, empty fails)."""

    task: Task
    reference: Verdict
    empty: Verdict
    problem: str = ""
    infra: str = ""  # why the machine could not decide (too slow); empty when it could
    skipped: str = ""  # not run: the image or packages the task needs that this host lacks (Task.needs)

    @property
    def ok(self) -> bool:
        return not self.problem


TAIL_CHARS = 600  # of the verifier's output, in every failure report


def _slow(verdict: Verdict) -> bool:
    return verdict.status == NO_SCORE and verdict.reason.startswith(SLOW_MACHINE)


def attempt(task: Task, *, solve: bool, layer: str | None = None, limits: Limits | None = None) -> Verdict:
    """One episode: fresh sandbox, task laid out, the reference solution run (or nothing), tests. An episode
    the machine was too slow for is run once more with `SLOW_RETRY_SCALE` times the task's time budgets."""
    verdict = _attempt_once(task, solve=solve, layer=layer, limits=limits)
    if _slow(verdict):
        slower = replace(task, timeout_s=task.timeout_s * SLOW_RETRY_SCALE,
                         test_timeout_s=task.test_timeout_s * SLOW_RETRY_SCALE)
        verdict = _attempt_once(slower, solve=solve, layer=layer, limits=limits)
        verdict.attempts += 1
    return verdict


def _attempt_once(task: Task, *, solve: bool, layer: str | None, limits: Limits | None) -> Verdict:
    try:
        with Sandbox(layer=layer, limits=task_limits(task, limits), workdir=task.workdir) as box:
            prepare(task, box)
            if solve:
                result = run_solution(task, box)
                if result.timed_out:
                    return timed_out("the reference solution", result, task.timeout_s)
            return verify(task, box, retries=1)
    except SandboxError as exc:
        return Verdict(NO_SCORE, None, reason=str(exc))


def check_task(task: Task, *, layer: str | None = None) -> TaskCheck:
    """Run the reference solution and an empty attempt of `task`; a task that needs an image or packages
    the host lacks is not run but reported as skipped (its `needs`)."""
    if task.needs:
        not_run = Verdict(NO_SCORE, None, reason=f"unsupported: {task.needs}")
        return TaskCheck(task, not_run, not_run, skipped=task.needs)
    reference = attempt(task, solve=True, layer=layer) if task.solution else Verdict(
        NO_SCORE, None, reason="no reference solution")
    empty = attempt(task, solve=False, layer=layer)
    problems, infra = [], [f"{name}: {v.reason}" for name, v in (("reference", reference), ("empty", empty))
                           if _slow(v)]
    if infra:
        return TaskCheck(task, reference, empty, "", "; ".join(infra))
    if reference.status != PASS:
        problems.append(f"reference solution {reference.status}: {reference.reason or 'no reason given'}"
                        f"{_tail(reference)}")
    if empty.status != FAIL:
        problems.append(f"empty attempt {empty.status}" + (f": {empty.reason}" if empty.reason else
                                                            " (the tests pass without any work)") + _tail(empty))
    return TaskCheck(task, reference, empty, "; ".join(problems))


def output_tail(verdict: Verdict, chars: int = TAIL_CHARS) -> str:
    """The last `chars` characters of what the verifier (or the sandbox) printed."""
    return verdict.output.strip()[-chars:]


def _tail(verdict: Verdict) -> str:
    tail = output_tail(verdict)
    return f"; verifier output: ...{tail}" if tail else "; the verifier printed nothing"


def check_tasks(tasks: Iterable[Task], *, workers: int = 4, layer: str | None = None,
                on_done: Callable[[TaskCheck], None] | None = None) -> list[TaskCheck]:
    """Check every task, `workers` at a time; results in the order given."""
    tasks = list(tasks)

    def one(task: Task) -> TaskCheck:
        result = check_task(task, layer=layer)
        if on_done:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, tasks))
