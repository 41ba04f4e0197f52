"""Judge throughput (MB/s of transcript JSONL judged) vs json.loads of the same transcripts.

    python benchmarks/judge_throughput.py [--size-mb 60] [--workers 2]

The corpus is generated (benchmarks/corpus.py, from real Claude Code transcripts) and imported once. Baseline:
read every file and json.loads every line. Subject: `bashgym judge --rescore`'s code path (read each session
from the store, signals, detectors, scores, write them back) over every session, one process pinned to one
CPU; with --workers N, the same with N processes (`bashgym judge --workers`) on N CPUs (CPU time then counts
this process only). Each subject run is bracketed by baselines and the median round is reported, in wall time
and in this process's CPU time (this machine is shared: wall time swings with other work). Target: >= 50 MB/s
single process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import make_corpus  # noqa: E402

from bashgym.judge.config import JudgeConfig  # noqa: E402
from bashgym.judge.runner import judge_store  # noqa: E402
from bashgym.sources.claude_code import ClaudeCodeSource  # noqa: E402
from bashgym.sources.importer import import_paths  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness import pin_to_one_core  # noqa: E402


def baseline(files: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds to json.loads every line of every file."""
    wall, cpu = time.perf_counter(), time.process_time()
    for path in files:
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of: baseline, judge, baseline")
    parser.add_argument("--workers", type=int, default=1, help="judge processes (--workers of `bashgym judge`)")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print("cpu       " + (pin_to_one_core() if args.workers <= 1 else f"{args.workers} workers on CPUs {cpus}"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        n_files, n_bytes = make_corpus(root, args.size_mb)
        files = ClaudeCodeSource().discover(root)
        store = Store(Path(tmp) / "bashgym.db")
        import_paths(store, ClaudeCodeSource(), files)
        mb = n_bytes / 1e6
        print(f"corpus    {n_files} files, {mb:.0f} MB, {store.count_sessions()} sessions; {args.rounds} rounds "
              "(wall MB/s; CPU MB/s of this process in brackets: the machine may be shared)")
        config = JudgeConfig()
        rounds = []
        for r in range(args.rounds):
            before = baseline(files)
            wall, cpu = time.perf_counter(), time.process_time()
            summary = judge_store(store, config, rescore=True, workers=args.workers)
            subject = (time.perf_counter() - wall, time.process_time() - cpu)
            after = baseline(files)
            base = ((before[0] + after[0]) / 2, (before[1] + after[1]) / 2)
            rounds.append((base, subject))
            print(f"round {r + 1}   json.loads {mb / base[0]:6.1f} MB/s ({mb / base[1]:.1f})   judge "
                  f"{mb / subject[0]:6.1f} MB/s ({mb / subject[1]:.1f}; {summary.sessions} sessions, "
                  f"{summary.turns} turns)   ratio {base[0] / subject[0]:.2f}x")
        store.close()
    ratios = sorted(b[0] / s[0] for b, s in rounds)
    walls = sorted(mb / s[0] for _, s in rounds)
    cpus_ = sorted(mb / s[1] for _, s in rounds)
    mid = len(rounds) // 2
    print(f"judge     {walls[mid]:.1f} MB/s wall, {cpus_[mid]:.1f} MB/s CPU, median (target >= 50 MB/s single process)")
    print(f"ratio     judge / json.loads = {ratios[mid]:.2f}x median of {args.rounds} (min {ratios[0]:.2f}, "
          f"max {ratios[-1]:.2f})")


if __name__ == "__main__":
    main()
