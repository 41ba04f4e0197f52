"""Import throughput per source (MB/s into the store, one core) vs json.loads of the same files, same run.

    python benchmarks/import_throughput_sources.py [--size-mb 20] [--only codex,gemini,opencode,file]

Each source's corpus is grown from its test fixture (the real Codex CLI rollout; the Gemini CLI / OpenCode /
OpenAI-dataset fixtures built from their types) with fresh ids and tool outputs of varied realistic sizes
(corpus.FILLERS, shared with benchmarks/import_throughput.py). Baseline: read every file and json.loads every
JSON line / document. Subject: discover + import_paths into a fresh SQLite store (for OpenCode this includes
gathering each session's files into its bundle). Same harness as the Claude Code benchmark (benchmarks/harness.py:
one CPU, each import bracketed by baselines, median of rounds); only the Claude Code import has a target (≥ 0.5×).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))

from corpus import FILLERS  # noqa: E402

from bashgym.sources.codex import CodexSource  # noqa: E402
from bashgym.sources.datasets import DatasetSource  # noqa: E402
from bashgym.sources.gemini import GeminiSource  # noqa: E402
from bashgym.sources.importer import import_paths  # noqa: E402
from bashgym.sources.opencode import OpenCodeSource  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness import bracketed, median_ratio, pin_to_one_core  # noqa: E402
from importer_fixtures import OPENAI_RECORDS, gemini_messages, opencode_objects  # noqa: E402

CODEX_FIXTURE = next((ROOT / "tests" / "fixtures" / "codex").glob("rollout-*.jsonl"))


def filler(rng: random.Random) -> str:
    return rng.choice(FILLERS)(rng, rng.choice([200, 1500, 6000, 20000]))


def codex_corpus(out: Path, target: int, rng: random.Random) -> None:
    template = [json.loads(x) for x in CODEX_FIXTURE.read_text().splitlines()]
    written = n = 0
    while written < target:
        sid = f"01a2131c-{n:04x}-7000-8000-{rng.randrange(16**12):012x}"
        lines = []
        for _ in range(rng.randint(2, 5)):
            for obj in template:
                obj = json.loads(json.dumps(obj))
                p = obj["payload"]
                if obj["type"] == "session_meta":
                    if lines:
                        continue
                    p["id"] = sid
                if p.get("type") == "function_call_output":
                    p["output"] = p["output"] + filler(rng)
                lines.append(json.dumps(obj))
        data = "\n".join(lines) + "\n"
        day = out / "2026" / "11" / f"{n % 28 + 1:02d}"
        day.mkdir(parents=True, exist_ok=True)
        (day / f"rollout-2026-11-25T10-00-00-{sid}.jsonl").write_text(data)
        written += len(data.encode())
        n += 1


def gemini_corpus(out: Path, target: int, rng: random.Random) -> None:
    written = n = 0
    while written < target:
        chats = out / f"{n % 7:016x}" / "chats"
        chats.mkdir(parents=True, exist_ok=True)
        lines = [{"sessionId": f"g-{n}", "projectHash": "p", "startTime": "2026-11-20T10:00:00Z"}]
        for r in range(rng.randint(2, 6)):
            for m in gemini_messages():
                m = json.loads(json.dumps(m))
                m["id"] = f"{m['id']}-{r}"
                for call in m.get("toolCalls") or []:
                    call["result"][0]["functionResponse"]["response"] = {"output": "Output: " + filler(rng)}
                lines.append(m)
        data = "".join(json.dumps(x) + "\n" for x in lines)
        (chats / f"session-2026-11-20T10-00-{n:08x}.jsonl").write_text(data)
        written += len(data.encode())
        n += 1


def opencode_corpus(out: Path, target: int, rng: random.Random) -> None:
    objs = opencode_objects()
    written = n = 0
    while written < target:
        sid = f"ses_{n:012d}"
        session = dict(objs["session"], id=sid)
        sfile = out / "session" / "prj" / f"{sid}.json"
        sfile.parent.mkdir(parents=True, exist_ok=True)
        sfile.write_text(json.dumps(session))
        written += sfile.stat().st_size
        for r in range(rng.randint(2, 6)):
            for msg, parts in objs["messages"]:
                mid = f"{msg['id']}_{n:06d}_{r:03d}"
                mdir = out / "message" / sid
                mdir.mkdir(parents=True, exist_ok=True)
                data = json.dumps(dict(msg, id=mid, sessionID=sid), indent=2)
                (mdir / f"{mid}.json").write_text(data)
                written += len(data)
                pdir = out / "part" / mid
                pdir.mkdir(parents=True, exist_ok=True)
                for part in parts:
                    part = json.loads(json.dumps(part))
                    if part["type"] == "tool" and part["state"].get("output") is not None:
                        part["state"]["output"] += filler(rng)
                    data = json.dumps(dict(part, sessionID=sid, messageID=mid), indent=2)
                    (pdir / f"{part['id']}.json").write_text(data)
                    written += len(data)
        n += 1


def dataset_corpus(out: Path, target: int, rng: random.Random) -> None:
    out.mkdir(parents=True, exist_ok=True)
    written = n = 0
    with open(out / "train.jsonl", "w") as fh:
        while written < target:
            rec = json.loads(json.dumps(OPENAI_RECORDS[0]))
            rec["id"] = f"rec-{n}"
            for m in rec["messages"]:
                if m["role"] == "tool":
                    m["content"] += filler(rng)
            line = json.dumps(rec) + "\n"
            fh.write(line)
            written += len(line.encode())
            n += 1


SOURCES = {
    "codex": (codex_corpus, CodexSource),
    "gemini": (gemini_corpus, GeminiSource),
    "opencode": (opencode_corpus, OpenCodeSource),
    "file": (dataset_corpus, lambda: DatasetSource("openai", line_based=True)),
}


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))


def baseline(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        if path.suffix == ".jsonl":
            with open(path, "rb") as fh:
                for line in fh:
                    json.loads(line)
        else:
            json.loads(path.read_bytes())
    return time.perf_counter() - start


def subject(fmt, root: Path, db: Path) -> tuple[float, int]:
    """discover + one import call into a fresh store, until it is closed (as the CLI runs it)."""
    start = time.perf_counter()
    with Store(db) as store:
        summary = import_paths(store, fmt, fmt.discover(root))
    return time.perf_counter() - start, summary.steps


def measure(name: str, size_mb: float, n_rounds: int) -> None:
    make, source = SOURCES[name]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BASHGYM_HOME"] = str(Path(tmp) / "home")  # OpenCode bundles go under it
        root = Path(tmp) / "corpus"
        root.mkdir()
        make(root, int(size_mb * 1e6), random.Random(0))
        files = corpus_files(root)
        mb = sum(f.stat().st_size for f in files) / 1e6
        steps = 0

        def run(r: int) -> float:
            nonlocal steps
            db = Path(tmp) / f"round{r}" / "bashgym.db"
            db.parent.mkdir()
            seconds, steps = subject(source(), root, db)
            shutil.rmtree(db.parent)
            return seconds

        rounds = bracketed(lambda: baseline(files), run, n_rounds)
    median, low, high = median_ratio(rounds)
    base = sorted(r.baseline for r in rounds)[len(rounds) // 2]
    print(f"{name:9s} corpus {len(files):6d} files {mb:6.1f} MB | baseline json.loads {mb / base:7.1f} MB/s | "
          f"{steps} steps | ratio {median:.2f}x median of {n_rounds} (min {low:.2f}, max {high:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=20)
    parser.add_argument("--only", default=",".join(SOURCES))
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of: baseline, import, baseline")
    args = parser.parse_args()
    print(f"cpu       {pin_to_one_core()}")
    for name in args.only.split(","):
        measure(name, args.size_mb, args.rounds)


if __name__ == "__main__":
    main()
