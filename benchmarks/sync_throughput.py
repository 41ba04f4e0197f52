"""`bashgym sync` to PostgreSQL on 127.0.0.1 vs a local SQLite import of the same sessions.

    python benchmarks/sync_throughput.py [--size-mb 100] [--rounds 3]

Baseline: `bashgym import claude`'s code path over a generated corpus into a fresh SQLite store (parse,
canonical rows, compressed raw lines), until the store is closed. Subject: `sync` of that store (sessions,
raw lines, scores) into a fresh database on a real PostgreSQL server (Debian's package, started here as
tests/pg_server.py does), until the last batch is committed. Both in the same run on the same sessions, this
process pinned to one CPU; each sync is bracketed by an import just before and after it, and the median
round is reported. Target: subject ≥ 0.5× baseline (MB of transcript per second).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from corpus import make_corpus  # noqa: E402

from bashgym.sources.claude_code import ClaudeCodeSource  # noqa: E402
from bashgym.sources.importer import import_paths  # noqa: E402
from bashgym.store import Store  # noqa: E402
from bashgym.store.sync import sync  # noqa: E402
from harness import Round, bracketed, median_ratio, pin_to_one_core  # noqa: E402
from pg_server import PostgresServer  # noqa: E402


def local_import(files: list[Path], db: Path) -> float:
    if db.parent.exists():
        shutil.rmtree(db.parent)
    db.parent.mkdir(parents=True)
    start = time.perf_counter()
    store = Store(db)
    summary = import_paths(store, ClaudeCodeSource(), files)
    store.close()
    if summary.failed_files:
        raise SystemExit(f"import failed: {summary.failed_files[:3]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of: import, sync, import")
    parser.add_argument("--corpus", choices=["mixed", "long"], default="mixed")
    args = parser.parse_args()
    server = PostgresServer().start()
    try:
        print(f"cpu       {pin_to_one_core()} (the PostgreSQL server runs in its own processes)")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "corpus"
            n_files, n_bytes = make_corpus(root, args.size_mb, kind=args.corpus)
            files = ClaudeCodeSource().discover(root)
            mb = n_bytes / 1e6
            source_db = Path(tmp) / "source" / "bashgym.db"
            local_import(files, source_db)
            with Store(source_db) as local:
                n_sessions = local.count_sessions()
            print(f"corpus    {args.corpus}: {n_files} files, {mb:.0f} MB, {n_sessions} sessions; {args.rounds} "
                  "rounds of import, sync, import")

            def run(r: int) -> float:
                url = server.create_database(f"sync_round_{r}")
                with Store(source_db) as local:
                    local.db.execute("DELETE FROM sync_state WHERE target != ''")  # a first sync each round
                    start = time.perf_counter()
                    with Store(url) as team:
                        summary = sync(local, team, user="bench", machine="bench")
                    seconds = time.perf_counter() - start
                if summary.sessions_sent != n_sessions:
                    raise SystemExit(f"sync sent {summary.sessions_sent} of {n_sessions} sessions")
                return seconds

            def report(r: int, done: Round) -> None:
                print(f"round {r + 1}   import {mb / done.baseline:6.1f} MB/s (before {mb / done.before:.1f}, "
                      f"after {mb / done.after:.1f})   sync {mb / done.subject:6.1f} MB/s   ratio {done.ratio:.2f}x")

            rounds = bracketed(lambda: local_import(files, Path(tmp) / "baseline" / "bashgym.db"), run,
                               args.rounds, report)
        median, low, high = median_ratio(rounds)
        print(f"ratio     sync / local import = {median:.2f}x median of {args.rounds} (min {low:.2f}, "
              f"max {high:.2f})   (target >= 0.5x)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
