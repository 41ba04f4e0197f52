"""What the lint every build now runs (`bashgym dataset check`'s rules) costs a build.

Baseline: the build pipeline's rows (select → segment → redact → dedup → decontaminate → shape → format),
single process. Subject: the same plus `lint_rows` with the build's settings (structure rules, token lengths,
and a fresh redactor's scan for leftover secrets). Each subject run is bracketed by baseline runs on one CPU
(benchmarks/harness.py) and the median round is reported. The store comes from factory_throughput.py's
generator (realistic sessions, planted secrets).

    python benchmarks/dataset_lint_overhead.py               # ~1-2 minutes (5 MB, 3 rounds)
    python benchmarks/dataset_lint_overhead.py --size-mb 20 --rounds 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from factory_throughput import generate  # noqa: E402

from harness import bracketed, median_ratio, pin_to_one_core  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(pin_to_one_core())
    home = Path(tempfile.mkdtemp(prefix="bashgym-lint-bench-"))
    sessions, mb = generate(home, args.size_mb)

    from bashgym.factory.build import run_pipeline
    from bashgym.factory.config import DatasetConfig
    from bashgym.factory.lint import lint_config, lint_rows
    from bashgym.store import Store

    store = Store.open(home)
    cfg = DatasetConfig(name="bench", write={"hf": False, "parquet": False})
    rows: list = []

    def baseline() -> None:
        rows[:] = run_pipeline(store, cfg)[0]

    def subject(_: int) -> float:
        start = time.perf_counter()
        made = run_pipeline(store, cfg)[0]
        report = lint_rows({"train": made}, cfg.format, **lint_config(cfg.model_dump(), True))
        assert report.errors == 0, report.to_dict()["counts"]
        return time.perf_counter() - start

    def show(r: int, rnd) -> None:
        print(f"round {r + 1}: baseline {rnd.baseline:.2f}s, subject {rnd.subject:.2f}s, ratio {rnd.ratio:.2f}")

    rounds = bracketed(baseline, subject, args.rounds, show)
    median, low, high = median_ratio(rounds)
    base = sorted(r.baseline for r in rounds)[len(rounds) // 2]
    sub = sorted(r.subject for r in rounds)[len(rounds) // 2]
    print(f"store: {sessions} sessions, {mb:.1f} MB of trace text, {len(rows)} rows")
    print(f"baseline (build without lint): {base:.2f} s")
    print(f"subject  (build + lint):       {sub:.2f} s")
    print(f"ratio (baseline/subject throughput): {median:.2f} (min {low:.2f}, max {high:.2f}); "
          f"lint adds {(1 / median - 1) * 100:.0f}% to a single-process build")
    store.close()


if __name__ == "__main__":
    main()
