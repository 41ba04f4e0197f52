"""Judge throughput (MB/s of transcript JSONL judged) vs json.loads of the same transcripts.

    python benchmarks/judge_throughput.py [--size-mb 60] [--workers 2]

The corpus is generated (benchmarks/corpus.py, from real Claude Code transcripts) and imported once. Baseline:
read every file and json.loads every line. Subject: `bashgym judge --rescore`'s code path (read each session
from the store, signals, detectors, scores, write them back) over every session, one process pinned to one
CPU; with --workers N, the same with N processes (the judge's own executor) on N CPUs. Each subject run is
bracketed by baselines and the median round is reported. Target: >= 50 MB/s single process.
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
from harness import bracketed, median_ratio, pin_to_one_core  # noqa: E402


def baseline(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of: baseline, judge, baseline")
    parser.add_argument("--workers", type=int, default=1, help="judge processes (each pinned to its own CPU)")
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
        print(f"corpus    {n_files} files, {mb:.0f} MB, {store.count_sessions()} sessions; {args.rounds} rounds")
        config = JudgeConfig()
        judged = {}

        def run(_r: int) -> float:
            start = time.perf_counter()
            judged["summary"] = judge_store(store, config, rescore=True, workers=args.workers)
            return time.perf_counter() - start

        def report(r: int, done: object) -> None:
            s = judged["summary"]
            print(f"round {r + 1}   baseline {mb / done.baseline:6.1f} MB/s   judge {mb / done.subject:6.1f} MB/s "
                  f"({s.sessions} sessions, {s.turns} turns)   ratio {done.ratio:.2f}x")

        rounds = bracketed(lambda: baseline(files), run, args.rounds, report)
        store.close()
    median, low, high = median_ratio(rounds)
    subject_mb_s = sorted(mb / r.subject for r in rounds)[len(rounds) // 2]
    print(f"judge     {subject_mb_s:.1f} MB/s median (target >= 50 MB/s single process)")
    print(f"ratio     judge / json.loads = {median:.2f}x median of {args.rounds} (min {low:.2f}, max {high:.2f})")


if __name__ == "__main__":
    main()
