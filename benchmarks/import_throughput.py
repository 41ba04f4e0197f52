"""Import throughput (MB/s of transcript JSONL into the store, one core) vs json.loads of the same lines.

    python benchmarks/import_throughput.py [--size-mb 200] [--corpus mixed|long|both]

Baseline: read every file and json.loads every line (nothing stored). Subject: `bashgym import claude`'s
code path into a fresh SQLite store — parse, canonical rows, compressed raw lines, full fidelity (nothing
truncated) — in one import call, as the CLI makes it, until the store is closed. Both in the same run on
the same generated corpus, with the process pinned to one CPU; each import is bracketed by a baseline
just before and after it (this machine's speed drifts), and the median of the rounds is reported.
Target: subject ≥ 0.5× baseline, on both corpora: "mixed" (outputs mostly short, a long tail) and "long"
(every tool output 5-50 KB: file reads and test logs, which carry most of real sessions' bytes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import make_corpus  # noqa: E402

from bashgym.sources.claude_code import ClaudeCodeSource  # noqa: E402
from bashgym.sources.importer import import_paths  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness import Round, bracketed, median_ratio, pin_to_one_core  # noqa: E402


def baseline(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
    return time.perf_counter() - start


def subject(files: list[Path], db: Path) -> tuple[float, int]:
    """One `import_paths` call over the whole corpus into a fresh store, as `bashgym import claude` runs,
    until the store is closed (the last WAL copy into the database is part of the cost)."""
    start = time.perf_counter()
    store = Store(db)
    summary = import_paths(store, ClaudeCodeSource(), files)
    store.close()
    seconds = time.perf_counter() - start
    if summary.failed_files or summary.skipped_lines:
        raise SystemExit(f"import failed: {summary.failed_files[:3]} {summary.errors[:3]}")
    return seconds, summary.steps


def measure(tmp: Path, kind: str, size_mb: float, rounds: int) -> float:
    root = tmp / f"corpus-{kind}"
    n_files, n_bytes = make_corpus(root, size_mb, kind=kind)
    files = ClaudeCodeSource().discover(root)
    mb = n_bytes / 1e6
    print(f"corpus    {kind}: {n_files} files, {mb:.0f} MB; {rounds} rounds of baseline, import, baseline")
    steps = 0

    def run(r: int) -> float:
        nonlocal steps
        db = tmp / f"{kind}-round{r}" / "bashgym.db"
        db.parent.mkdir()
        seconds, steps = subject(files, db)
        shutil.rmtree(db.parent)
        return seconds

    def report(r: int, done: Round) -> None:
        print(f"round {r + 1}   baseline {mb / done.baseline:6.1f} MB/s (before {mb / done.before:.1f}, "
              f"after {mb / done.after:.1f})   import {mb / done.subject:6.1f} MB/s, {steps} steps   "
              f"ratio {done.ratio:.2f}x")

    results = bracketed(lambda: baseline(files), run, rounds, report)
    median, low, high = median_ratio(results)
    print(f"ratio     {kind}: subject / baseline = {median:.2f}x median of {rounds} (min {low:.2f}, "
          f"max {high:.2f})   (target >= 0.5x)")
    shutil.rmtree(root)
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of: baseline, import, baseline")
    parser.add_argument("--corpus", choices=["mixed", "long", "both"], default="both")
    args = parser.parse_args()
    print(f"cpu       {pin_to_one_core()}")
    kinds = ["mixed", "long"] if args.corpus == "both" else [args.corpus]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            measure(Path(tmp), kind, args.size_mb, args.rounds)


if __name__ == "__main__":
    main()
