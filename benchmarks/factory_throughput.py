"""Factory throughput: examples/s and MB/s through select → redact → dedup → write, one process vs all
cores (the multiprocessing path of `bashgym dataset build --workers N`).

Generates a store of realistic sessions (prompts, assistant text, shell commands with multi-line outputs,
a planted secret in about one turn in five, 5% repeated sessions) of about --size-mb MB of trace text,
then builds the same dataset with --workers 1 and --workers <cores>, alternating (--rounds, fastest of each
kept), and prints baseline, subject and ratio. --scaling also builds half the store, to check that time per
MB stays flat (linear growth).

    python benchmarks/factory_throughput.py                 # ~30 seconds on 2 cores (5 MB)
    python benchmarks/factory_throughput.py --size-mb 100 --scaling  # ~5 minutes
    python benchmarks/factory_throughput.py --size-mb 1024 --subject-only --rounds 1  # the 1 GB figure (~6 min)
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the server config deploy build test cache index query worker queue retry timeout branch merge "
         "commit parser module import export handler request response token session error warning value "
         "function return class method object string list dict file path directory option flag").split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_session(i: int, rng: random.Random):
    from bashgym.schema import Session, Step, Turn

    turns = []
    for t in range(rng.randint(2, 5)):
        steps = [Step(kind="message", role="assistant", text=sentence(rng, 30))]
        for c in range(rng.randint(2, 6)):
            out_lines = [f"{rng.randrange(10**6):06d} {sentence(rng, 8)} /home/alice/proj/src/{rng.choice(WORDS)}.py"
                         for _ in range(rng.randint(10, 60))]
            if rng.random() < 0.05:
                out_lines.append("export OPENAI_API_KEY=sk-proj-" + "".join(rng.choice("abcdefXYZ0123456789")
                                                                            for _ in range(48)))
            steps.append(Step(kind="tool_call", tool_name="Bash", call_id=f"c{i}-{t}-{c}",
                              input={"command": f"grep -rn {rng.choice(WORDS)} src/ | head -{rng.randint(5, 90)}"},
                              output="\n".join(out_lines), exit_code=0))
        steps.append(Step(kind="message", role="assistant", text=sentence(rng, 40)))
        turns.append(Turn(index=t, prompt=f"Please {sentence(rng, 12)} (ticket {i}-{t})", steps=steps))
    return Session(id=f"bench-{i:07d}", source="claude_code", turns=turns, project="/home/alice/proj",
                   started_at=f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z", models=["claude-sonnet-4-5"])


def generate(home: Path, size_mb: float, seed: int = 0) -> tuple[int, float]:
    """Fill a store under `home` with ~size_mb MB of trace text; returns (sessions, MB of text)."""
    os.environ["BASHGYM_HOME"] = str(home)
    from bashgym.store import Store

    rng = random.Random(seed)
    store = Store.open()
    target = size_mb * 1_000_000
    total, i, batch, previous = 0, 0, [], []
    while total < target:
        if previous and rng.random() < 0.05:  # a repeated session: dedup has something to find
            s = make_session(rng.choice(previous), random.Random(rng.choice(previous)))
            s.id = f"bench-dup-{i:07d}"
        else:
            s = make_session(i, random.Random(seed * 1_000_003 + i))
            previous.append(i)
        total += sum(len(st.output or "") + len(st.text) + len(str(st.input or "")) for st in s.steps)
        total += sum(len(t.prompt) for t in s.turns)
        batch.append(s)
        i += 1
        if len(batch) >= 200:
            with store.transaction():
                for b in batch:
                    store.save_session(b)
            batch = []
    with store.transaction():
        for b in batch:
            store.save_session(b)
    store.close()
    return i, total / 1e6


def warm_imports() -> float:
    """Import what a build imports (the writer datasets): a fixed cost paid once per process, kept out of
    the throughput figures."""
    start = time.perf_counter()
    import datasets  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from bashgym.factory import apply_redaction, minhash, redact  # noqa: F401

    return time.perf_counter() - start


def run_build(workers: int, name: str) -> tuple[float, dict]:
    from bashgym.factory.build import build_dataset
    from bashgym.factory.config import DatasetConfig
    from bashgym.store import Store

    cfg = DatasetConfig(name=name, decontaminate={"enabled": False}, write={"hf": False},
                        select={"tiers": ["gold", "silver", "bronze", "failed", "unscored"]})
    store = Store.open()
    start = time.perf_counter()
    record = build_dataset(store, cfg, workers=workers)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed, record


def _line(label: str, seconds: float, record: dict, mb: float) -> str:
    examples = {st["name"]: st for st in record["counts"]["steps"]}["segment"]["kept"]
    return f"{label:22} {seconds:7.2f}s  {examples / seconds:8.1f} examples/s  {mb / seconds:6.2f} MB/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=5.0, help="MB of trace text to generate (default 5)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the subject run")
    ap.add_argument("--scaling", action="store_true", help="also time half the store (in the baseline's mode)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="baseline/subject alternations; the fastest of each is reported (this machine drifts)")
    ap.add_argument("--subject-only", action="store_true",
                    help="skip the single-process baseline (for the 1 GB figure on a small machine)")
    args = ap.parse_args()

    temp = Path(tempfile.mkdtemp(prefix="bashgym-bench-"))
    try:
        run(args, temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def run(args: argparse.Namespace, temp: Path) -> None:
    home = temp / "full"
    t0 = time.perf_counter()
    n_sessions, mb = generate(home, args.size_mb)
    db_mb = (home / "bashgym.db").stat().st_size / 1e6
    print(f"store: {n_sessions} sessions, {mb:.1f} MB of trace text ({db_mb:.1f} MB database), "
          f"generated in {time.perf_counter() - t0:.1f}s; {os.cpu_count()} cores")

    print(f"imports (once per process, not timed below): {warm_imports():.1f}s")
    base_s = base = None
    sub_s, sub = float("inf"), {}
    for r in range(max(1, args.rounds)):  # alternate, so a slow spell of the machine hits both alike
        if not args.subject_only:
            seconds, record = run_build(1, f"single{r}")
            if base_s is None or seconds < base_s:
                base_s, base = seconds, record
        seconds, record = run_build(args.workers, f"parallel{r}")
        if seconds < sub_s:
            sub_s, sub = seconds, record
    first = base or sub
    steps = {st["name"]: st for st in first["counts"]["steps"]}
    print(f"examples in: {steps['segment']['kept']}, written: {sum(first['counts']['rows'].values())} "
          f"(dedup dropped {sum(steps['dedup']['dropped'].values())}, "
          f"redactions {first['counts']['redaction'].get('total', 0)})")
    if base is not None:
        assert sub["counts"]["rows"] == base["counts"]["rows"], "parallel build wrote different row counts"
        print(_line("baseline (1 process):", base_s, base, mb))
    print(_line(f"subject ({args.workers} processes):", sub_s, sub, mb))
    if base_s is not None:
        print(f"ratio (subject speed / baseline speed): {base_s / sub_s:.2f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"peak memory of the main process: {peak:.1f} GB")

    if args.scaling:
        half = temp / "half"
        _, half_mb = generate(half, args.size_mb / 2)
        workers, full_s = (1, base_s) if base_s is not None else (args.workers, sub_s)
        half_s, _ = run_build(workers, "half")
        per_half, per_full = half_s / half_mb, full_s / mb
        growth = per_full / per_half
        verdict = "linear" if growth <= 1.2 else "SUPERLINEAR"
        print(f"scaling ({workers} process{'es' if workers > 1 else ''}): half store {half_mb:.1f} MB in "
              f"{half_s:.2f}s ({per_half:.3f} s/MB), full store {mb:.1f} MB in {full_s:.2f}s ({per_full:.3f} s/MB) "
              f"→ time per MB x{growth:.2f} at twice the size: {verdict} (1.00 = linear; up to 1.20 counted "
              "linear, this machine's speed drifts)")


if __name__ == "__main__":
    sys.exit(main())
