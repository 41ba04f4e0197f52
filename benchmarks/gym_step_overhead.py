"""Per-step overhead of BashTaskEnv.step against a bare subprocess.run of the same command, and episodes/s
with N parallel workers.

Baseline: `subprocess.run(cmd, shell=True, capture_output=True)` (a fresh /bin/sh per command, no sandbox).
Subject: `env.step(cmd)` (the episode's persistent bash in its sandbox, output and exit code captured,
observation rebuilt). Target: ratio <= 1.5.

    python benchmarks/gym_step_overhead.py [--steps 200] [--workers 1 2 4] [--episodes 24]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bashgym.gym.check import attempt
from bashgym.gym.env import BashTaskEnv
from bashgym.gym.sandbox import detect_layer
from bashgym.gym.task import load_suite

COMMANDS = ["echo hello", "ls -la", "printf 'a\\nb\\nc\\n' | sort -r | head -2", "cat task_input.txt | wc -l"]


def per_step(steps: int) -> None:
    env = BashTaskEnv("files-create-nested", max_steps=steps * len(COMMANDS) + 10, time_limit_s=3600)
    env.reset(seed=0)
    env.step("seq 1 100 > task_input.txt")
    workspace = env.sandbox.workspace
    print(f"sandbox layer: {env.sandbox.layer}")
    print(f"{'command':45s} {'baseline ms':>12s} {'env.step ms':>12s} {'ratio':>7s}")
    ratios = []
    for cmd in COMMANDS:
        base, subj = [], []
        for _ in range(steps):
            t = time.perf_counter()
            subprocess.run(cmd, shell=True, capture_output=True, cwd=workspace)
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            env.step(cmd)
            subj.append(time.perf_counter() - t)
        b, s = statistics.median(base) * 1000, statistics.median(subj) * 1000
        ratios.append(s / b)
        print(f"{cmd:45s} {b:12.2f} {s:12.2f} {s / b:7.2f}x")
    env.close()
    print(f"per-step overhead ratio (median over commands): {statistics.median(ratios):.2f}x  (target <= 1.5x)")


def episodes_per_second(workers: list[int], episodes: int) -> None:
    tasks = [t for t in load_suite("builtin")][:episodes]
    print(f"\nepisodes/s: {len(tasks)} episodes (fresh sandbox, setup, reference solution, tests)")
    base_rate = None
    for n in workers:
        t = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            verdicts = list(pool.map(lambda task: attempt(task, solve=True), tasks))
        rate = len(tasks) / (time.perf_counter() - t)
        base_rate = base_rate or rate
        passed = sum(v.passed for v in verdicts)
        print(f"  workers={n}: {rate:6.2f} episodes/s  ({passed}/{len(tasks)} passed)  speed-up {rate / base_rate:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--episodes", type=int, default=24)
    args = parser.parse_args()
    print(f"layer: {detect_layer().name}")
    per_step(args.steps)
    episodes_per_second(args.workers, args.episodes)


if __name__ == "__main__":
    main()
