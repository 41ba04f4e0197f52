"""The measuring harness the import benchmarks share: one CPU, and each subject run bracketed by baselines.

This machine's speed drifts by up to 2x within a minute, so absolute times mean little: every round runs
the baseline just before and just after the subject, compares the subject with their mean, and the
median round is the result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass


def pin_to_one_core() -> str:
    """Run on one CPU, as the targets are stated: helper threads (WAL checkpoints) share it."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class Round:
    before: float  # baseline seconds just before the subject
    subject: float
    after: float

    @property
    def baseline(self) -> float:
        return (self.before + self.after) / 2

    @property
    def ratio(self) -> float:
        """Subject throughput as a fraction of the baseline's (same bytes, so a ratio of times)."""
        return self.baseline / self.subject


def bracketed(baseline: Callable[[], object], subject: Callable[[int], float], rounds: int,
              report: Callable[[int, Round], None] | None = None) -> list[Round]:
    """`rounds` rounds of baseline, subject(round) (which returns its own seconds), baseline."""
    out = []
    for r in range(rounds):
        before = timed(baseline)
        seconds = subject(r)
        out.append(Round(before, seconds, timed(baseline)))
        if report:
            report(r, out[-1])
    return out


def median_ratio(rounds: list[Round]) -> tuple[float, float, float]:
    """(median, min, max) of the rounds' ratios."""
    ratios = sorted(r.ratio for r in rounds)
    return ratios[len(ratios) // 2], ratios[0], ratios[-1]
