"""Tell "the task ran out of time" from "the machine was too slow" when a command in the gym times out.

A wall-clock timeout alone makes a verdict depend on how busy the machine is: the same tests pass on a quiet
machine and time out under load. So while a timed command runs, a sampler reads what its processes got
from the kernel: the CPU time they received (/proc/PID/stat) and the time they were runnable but waited for a
CPU (/proc/PID/task/TID/schedstat, the run-queue delay). After a timeout:

- they received at least the whole budget in CPU time: they had their chance (a loop, too much work): task;
- they waited for a CPU for at least a quarter of the wall time and received less than the budget: the
  machine was too slow (an infrastructure failure, retried with a larger budget, never scored as a failure);
- otherwise (sleeping, blocked, waiting on something that never comes): task.

Why this cannot be gamed into a free "no score": a process that sleeps or blocks accumulates no run-queue
delay, and one that spins gets its CPU budget on all but a hopelessly overloaded machine. The agent's own
processes are gone before the tests run, so it cannot load the machine from inside while they run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MACHINE, TASK = "machine", "task"
WAIT_SHARE = 0.25  # runnable-but-waiting share of the wall time that counts as a starved run
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class TreeUsage:
    """CPU seconds a group of processes received, and seconds they spent runnable, waiting for a CPU."""

    cpu_s: float = 0.0
    wait_s: float = 0.0


def _process_counters(pid: int) -> tuple[str, float, float] | None:
    """(start time, CPU seconds, run-queue wait seconds over all threads), or None when the process is gone.
    The CPU seconds include the children it has reaped (cutime, cstime): a child that lives and dies between
    two samples still counts, through its parent (the sampler sums live processes only, so none counts twice).
    A dead child's run-queue wait has no such total: it counts only when a sample saw the child alive."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = sum(int(f) for f in fields[11:15]) / _TICK  # utime stime cutime cstime
        wait_ns = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as fh:
                    wait_ns += int(fh.read().split()[1])
            except (OSError, IndexError, ValueError):
                continue
        return fields[19], cpu, wait_ns / 1e9
    except (OSError, ValueError, IndexError):
        return None


def descendants(root: int) -> list[int]:
    """`root` and every process below it (from /proc/PID/task/TID/children)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
            except (OSError, ValueError):
                continue
    return found


class TreeSampler:
    """Samples the processes `pids()` names every `interval` seconds while a command runs (a daemon thread),
    keeping each process's last counters; a process that exits mid-run counts through the parent that reaps it.

        with TreeSampler(lambda: descendants(proc.pid)) as sampler:
            proc.wait(timeout=budget)  # on a timeout: sampler.usage() before killing proc
    """

    def __init__(self, pids: Callable[[], Iterable[int]], interval: float = 0.1) -> None:
        self._pids, self._interval = pids, interval
        self._seen: dict[tuple[int, str], tuple[float, float]] = {}
        self._base: dict[tuple[int, str], tuple[float, float]] = {}
        self._live: set[tuple[int, str]] = set()  # the processes the last sample found
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="bashgym-cpu-sampler")
        self._lock = threading.Lock()

    def __enter__(self) -> TreeSampler:
        self._thread.start()  # the first sample is taken there, so a short command pays only a thread start
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # not joined: usage() reads what was sampled, and a finished command needs nothing

    def _loop(self) -> None:
        self._sample(first=True)
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self, first: bool = False) -> None:
        try:
            pids = list(self._pids())
        except Exception:  # a pid source that failed this once: the next sample tries again
            return
        live = set()
        for pid in pids:
            counters = _process_counters(pid)
            if counters is None:
                continue
            key = (pid, counters[0])
            live.add(key)
            with self._lock:
                if first:  # what a process already had when the command started is not the command's
                    self._base[key] = counters[1:]
                self._seen[key] = counters[1:]
        with self._lock:
            self._live = live

    def usage(self) -> TreeUsage:
        """What the processes got so far. Samples them once more first, so a starved sampler thread (the
        machine is busy: exactly when this matters) still reads the live processes' counters."""
        self._sample()
        with self._lock:
            # CPU: the live processes, each with the children it reaped (a dead one's CPU is in its parent's)
            cpu = sum(self._seen[k][0] - self._base.get(k, (0.0, 0.0))[0] for k in self._live)
            wait = sum(w - self._base.get(k, (0.0, 0.0))[1] for k, (_c, w) in self._seen.items())
        return TreeUsage(max(0.0, cpu), max(0.0, wait))


def timeout_cause(usage: TreeUsage, wall_s: float, budget_s: float) -> str:
    """MACHINE when a timed-out command was starved of CPU, TASK when it had its chance (see module doc)."""
    if usage.cpu_s >= budget_s:
        return TASK
    return MACHINE if usage.wait_s >= WAIT_SHARE * wall_s else TASK


def describe(usage: TreeUsage, wall_s: float) -> str:
    return f"{usage.cpu_s:.1f}s of CPU and {usage.wait_s:.1f}s waiting for a CPU in {wall_s:.1f}s"
