"""A task's verdict does not depend on how busy the machine is: a timeout is scored a failure only when it is
the task's doing (sleeping, hanging, spinning through its CPU budget), and reported as "infra: the machine was
too slow" (no score, retried with a larger budget) when other processes starved it of CPU. Real sandboxes,
real processes pinned to one CPU beside real competitors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bashgym.gym.check import attempt
from bashgym.gym.sandbox import Sandbox
from bashgym.gym.task import load_task
from bashgym.gym.verifier import FAIL, NO_SCORE, PASS, SLOW_MACHINE, prepare, verify

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"), reason="needs Linux schedstat")

# About 0.6 s of CPU on an idle core: a fixed amount of work, not a fixed time.
WORK = "python3 -c 'sum(range(12_000_000))'"


def make_task(root: Path, name: str, test_sh: str, *, test_timeout_s: float, solution: str = "true") -> Path:
    task = root / name
    (task / "tests").mkdir(parents=True)
    (task / "task.yaml").write_text(f"id: {name}\ncategory: files\ninstruction: Do the thing.\n"
                                    f"timeout_s: 30\ntest_timeout_s: {test_timeout_s}\n")
    (task / "tests" / "test.sh").write_text("#!/bin/bash\n" + test_sh + "\n")
    (task / "solution.sh").write_text("#!/bin/bash\n" + solution + "\n")
    return task


def spinner(cpu: int) -> subprocess.Popen:
    """A process spinning on `cpu`, in a session of its own: the kernel shares a CPU between sessions
    (autogroups) before processes, and every sandbox runs in its own session."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True,
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))


@contextmanager
def one_busy_cpu(competitors: int) -> Iterator[None]:
    """This process (and so every sandbox it starts) on one CPU, beside `competitors` spinning processes."""
    before = os.sched_getaffinity(0)
    cpu = min(before)
    others = [spinner(cpu) for _ in range(competitors)]
    time.sleep(0.5)  # they are spinning before the sandbox starts
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
        for other in others:
            other.kill()
            other.wait()


def test_tests_that_hang_silently_fail_and_never_buy_a_no_score(tmp_path: Path) -> None:
    """The agent leaves a helper the tests call hanging without a word: a failure (reward 0), as any other
    broken work. (A hang once counted as an infrastructure failure, which a policy could learn to prefer.)"""
    task = load_task(make_task(tmp_path, "hang", "source ./lib.sh\ncheck", test_timeout_s=1))
    with Sandbox() as box:
        prepare(task, box)
        box.run("printf 'check() { sleep 60; }\\n' > lib.sh")
        verdict = verify(task, box)
    assert (verdict.status, verdict.reward, verdict.attempts) == (FAIL, 0.0, 1), verdict
    assert verdict.reason.startswith("the tests timed out after 1s"), verdict.reason


def test_tests_that_spin_through_their_budget_fail(tmp_path: Path) -> None:
    """On a machine with a core to spare a spinner gets its budget and fails. (Where other work leaves it less
    than a quarter of a core, it cannot be told from slow honest tests: then, and only then, no score.)"""
    task = load_task(make_task(tmp_path, "spin", "while :; do :; done", test_timeout_s=1))
    with Sandbox() as box:
        prepare(task, box)
        verdict = verify(task, box)
    assert verdict.status != PASS and verdict.reward != 1.0, verdict
    if verdict.status == FAIL:
        assert verdict.attempts == 1 and "of CPU" in verdict.reason, verdict
    else:
        assert verdict.reason.startswith(SLOW_MACHINE) and verdict.attempts == 2, verdict


def test_tests_starved_by_other_processes_are_never_a_failure(tmp_path: Path) -> None:
    """Tests that need ~0.6 s of CPU with a 1.5 s budget pass on their own; beside sixteen spinners on their CPU
    they get a small share of it, time out, and are the machine's fault: retried with three times the budget
    (then they pass) or, if even that is starved, no score. Never a failure."""
    task = load_task(make_task(tmp_path, "work", WORK, test_timeout_s=1.5, solution="true"))
    assert attempt(task, solve=True).status == PASS
    with one_busy_cpu(competitors=16):
        verdict = attempt(task, solve=True)
    assert verdict.status in (PASS, NO_SCORE), verdict
    if verdict.status == PASS:
        assert verdict.attempts >= 2 and verdict.duration_s > 1.5, verdict  # the first run was starved, retried
    else:
        assert verdict.reason.startswith(SLOW_MACHINE) and verdict.reward is None, verdict


def test_gym_check_reports_a_starved_task_as_undecided_not_broken(tmp_path: Path) -> None:
    """`bashgym gym check` exits 3 and says "undecided" when the machine, not the task, was too slow."""
    make_task(tmp_path, "work", "test -f done && " + WORK, test_timeout_s=0.5, solution="touch done")
    cpu = min(os.sched_getaffinity(0))
    # The real CLI, pinned to the CPU, loads its modules while the CPU is free (unstarved, that is seconds of
    # CPU spread over a minute), says so, and runs `gym check` once the competitors are spinning.
    loaded = ("import sys; from bashgym.cli import main; import bashgym.commands.gym, bashgym.gym.check; "
              "print('loaded', file=sys.stderr, flush=True); sys.stdin.readline(); main()")
    cli = subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", loaded, "gym", "check",
                            str(tmp_path / "work"), "--json", "--workers", "1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    spinners: list[subprocess.Popen] = []
    try:
        assert cli.stderr.readline() == "loaded\n"
        spinners = [spinner(cpu) for _ in range(8)]
        time.sleep(0.5)
        stdout, stderr = cli.communicate("go\n", timeout=300)
    finally:
        cli.kill()
        for busy in spinners:
            busy.kill()
            busy.wait()
    proc = subprocess.CompletedProcess(cli.args, cli.returncode, stdout, stderr)
    import json

    report = json.loads(proc.stdout)
    [result] = report["results"]
    if result["reference"] == PASS:  # the larger budget was enough even so: sound
        assert (proc.returncode, result["ok"], report["broken"]) == (0, True, 0), proc.stdout
    else:
        assert (proc.returncode, report["broken"], report["undecided"]) == (3, 0, 1), proc.stdout + proc.stderr
        assert result["ok"] and result["infra"].startswith("reference: " + SLOW_MACHINE), result
