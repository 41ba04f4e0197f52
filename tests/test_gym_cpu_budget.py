"""A timed-out command is the machine's fault only when its processes were starved of CPU: real processes,
pinned to one CPU, against real competition (gym/cpu_budget.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bashgym.gym.cpu_budget import MACHINE, TASK, TreeSampler, descendants, timeout_cause

SPIN = [sys.executable, "-c", "while True: pass"]
pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"), reason="needs Linux schedstat")


def _pinned() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run_for(argv: list[str], wall_s: float, *, competitors: int = 0, interval: float = 0.05):
    """Run `argv` pinned to one CPU for `wall_s` seconds (then kill it), beside `competitors` spinning
    processes pinned to the same CPU that are not part of the sampled tree; returns its usage."""
    others = [subprocess.Popen(SPIN, preexec_fn=_pinned) for _ in range(competitors)]
    try:
        time.sleep(0.2 if competitors else 0)
        proc = subprocess.Popen(argv, preexec_fn=_pinned)
        with TreeSampler(lambda: descendants(proc.pid), interval=interval) as sampler:
            start = time.monotonic()
            try:
                proc.wait(timeout=wall_s)
            except subprocess.TimeoutExpired:
                pass
            wall = time.monotonic() - start
            usage = sampler.usage()
        proc.kill()
        proc.wait()
        return usage, wall
    finally:
        for other in others:
            other.kill()
            other.wait()


def test_a_sleeping_command_that_times_out_is_the_tasks_fault() -> None:
    usage, wall = run_for(["sleep", "30"], 1.0, competitors=2)
    assert usage.cpu_s < 0.2 and usage.wait_s < 0.2, usage
    assert timeout_cause(usage, wall, budget_s=1.0) == TASK


def test_a_spinning_command_is_always_running_or_runnable() -> None:
    """A spinner is on a CPU or waiting for one the whole time (whatever else loads the machine), and once it
    has had its budget in CPU time, running out of time is its own doing."""
    usage, wall = run_for(SPIN, 1.0)
    assert usage.cpu_s + usage.wait_s > 0.8 * wall, usage
    assert timeout_cause(usage, wall, budget_s=usage.cpu_s) == TASK


@pytest.mark.parametrize(("cpu", "wait", "wall", "budget", "cause"), [
    (0.0, 0.0, 10.0, 10.0, TASK),       # slept or blocked
    (10.0, 0.0, 10.0, 10.0, TASK),      # spun the whole budget
    (12.0, 9.0, 10.0, 10.0, TASK),      # several processes: more CPU than the budget, however long they waited
    (2.0, 8.0, 10.0, 10.0, MACHINE),    # runnable, but a CPU came only a fifth of the time
    (5.0, 2.4, 10.0, 10.0, TASK),       # waited less than a quarter of the time
    (5.0, 2.5, 10.0, 10.0, MACHINE),
])
def test_timeout_cause_rule(cpu: float, wait: float, wall: float, budget: float, cause: str) -> None:
    from bashgym.gym.cpu_budget import TreeUsage

    assert timeout_cause(TreeUsage(cpu, wait), wall, budget) == cause


def test_a_command_starved_by_other_processes_is_the_machines_fault() -> None:
    """Three other spinners on its CPU: it gets about a quarter of it and waits the rest."""
    usage, wall = run_for(SPIN, 1.2, competitors=3)
    assert usage.cpu_s < 0.7 and usage.wait_s > 0.5, usage
    assert timeout_cause(usage, wall, budget_s=1.2) == MACHINE


@pytest.mark.parametrize("interval", [0.05, 60.0])
def test_children_that_exit_mid_run_still_count(interval: float, tmp_path: Path) -> None:
    """Three children that each do some work, report the CPU time they used, and exit before the command times
    out. With a 60 s interval no sample sees them alive (a starved sampler on a busy machine): they count
    through the shell that reaped them. Each counted once: the usage is what they reported (plus the shell)."""
    report = tmp_path / "cpu"
    work = f"{sys.executable} -c 'import time; sum(range(4_000_000)); print(time.process_time())' >> {report}"
    usage, _wall = run_for(["bash", "-c", f"{work}; {work}; {work}; exec sleep 30"], 4.0, interval=interval)
    used = [float(x) for x in report.read_text().split()]
    assert len(used) == 3, used  # all three finished before the timeout
    # /proc counts in clock ticks (10 ms): a tick per process either way, and a little for the shell itself
    assert sum(used) - 0.05 <= usage.cpu_s <= sum(used) + 0.15, (usage, used)
