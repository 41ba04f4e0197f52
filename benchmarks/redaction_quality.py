"""Redaction quality and speed: bashgym's Redactor vs detect-secrets alone, on the same labelled corpora.

    python benchmarks/redaction_quality.py [--mb 8] [--rounds 5] [--corpus PATH]

Quality, per corpus and per category: recall = planted secrets/PII removed without a trace; keep
(precision) = look-alikes (commit ids, hashes, UUIDs, base64 images, test card numbers, versions, ids of real
transcripts...) kept byte for byte plus clean documents left unchanged. Corpora (tests/fixtures/redaction/):
corpus.jsonl (generated, the rules' first tuning set), heldout.jsonl (hand-written), recall_dev.jsonl (issue
19's tuning half) and the held-out halves recall_test.jsonl, recall_test2.jsonl and recall_test3.jsonl, each
written and sealed before its first measurement (see make_recall_corpus.py).
detect-secrets runs with its default plugins (entropy and keyword included) line by line via `scan_line`,
and every value it reports is replaced, which is what using it alone as a redactor means.

Speed: MB/s of `Redactor.redact_text` over transcript text, one process pinned to one CPU, each run
bracketed by a regex-free baseline that touches every byte once (`str.lower`), a fresh Redactor a round (its
caches start empty); the median round's MB/s, its ratio to `str.lower` and its ratio to the 5 MB/s target are
printed. On the raw JSONL lines of the recorded real transcripts (tests/fixtures: Claude Code, Codex, Gemini
CLI; what capture.redact and the factory redact), on a typical mix (ordinary tool output, 1 document in 20
carrying secrets) and on the dense corpora themselves. MB per CPU-second is the figure compared with the
target: on a busy machine wall time also counts the other processes' turns on the core.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from bashgym.factory.redact import Redactor
from bashgym.factory.redact_eval import score
from harness import bracketed, median_ratio, pin_to_one_core

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "redaction"
TRANSCRIPTS = [FIXTURES.parent / name for name in ("claude", "claude_more", "codex", "gemini", "gemini_resumed_later",
                                                   "judge_calibration")]
TARGET_MB_S = 5.0
CORPORA = ["corpus.jsonl", "heldout.jsonl", "recall_dev.jsonl", "recall_test.jsonl", "recall_test2.jsonl",
           "recall_test3.jsonl"]

FILLER = [
    "$ ls -la src/\ntotal 64\ndrwxr-xr-x  8 dev dev 4096 Nov 25 10:02 .\n-rw-r--r--  1 dev dev 1733 Nov 25 10:02 cli.py\n",
    "$ pytest -q tests/test_store.py\n.................................... [100%]\n36 passed in 1.84s\n",
    "def parse(line: str) -> dict:\n    key, _, value = line.partition('=')\n    return {key.strip(): value.strip()}\n",
    "I'll update the config loader to validate keys and report the file and line of a bad value.\n",
    "diff --git a/src/app.py b/src/app.py\nindex 3f2a9c1..8b7d6e5 100644\n--- a/src/app.py\n+++ b/src/app.py\n"
    "@@ -12,7 +12,7 @@ def run():\n-    retries = 3\n+    retries = 5\n",
    "npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory.\nadded 412 packages in 9s\n",
    "2025-11-25T10:02:11Z INFO worker started pid=4821 queue=default concurrency=4\n",
]


def detect_secrets_alone(text: str) -> str:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    with default_settings():
        values = {s.secret_value for line in text.splitlines() for s in scan_line(line) if s.secret_value}
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "<REDACTED>")
    return text


def quality(name: str, docs: list[dict], with_detect_secrets: bool) -> None:
    print(f"\n== {name}: {len(docs)} documents, {sum(len(d['secrets']) for d in docs)} planted secrets/PII, "
          f"{sum(len(d['keep']) for d in docs)} look-alikes, {sum(d['clean'] for d in docs)} clean documents")
    rows = [("bashgym Redactor", score(docs, Redactor().redact_text)),
            ("bashgym, own rules only", score(docs, Redactor(use_detect_secrets=False).redact_text))]
    if with_detect_secrets:
        try:
            rows.append(("detect-secrets alone", score(docs, detect_secrets_alone)))
        except ImportError:
            print("detect-secrets is not installed: pip install 'bashgym[factory]'")
    print(f"{'':26} {'recall':>8} {'keep':>8}  missed kinds")
    for label, s in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s["missed_kinds"].items(), key=lambda kv: -kv[1])[:6])
        print(f"{label:26} {s['recall']:8.1%} {s['precision']:8.1%}  {kinds or '-'}")
    by = rows[0][1]["by_category"]
    planted = {k: v for k, v in by.items() if "planted" in v}
    if len(planted) > 1:
        print("  per category (bashgym Redactor): " + "; ".join(
            f"{k} {v['removed']}/{v['planted']} = {v['recall']:.3f}" for k, v in planted.items()))
        kept = [v for v in by.values() if "lookalikes" in v]
        print(f"  look-alikes kept: {sum(v['kept'] for v in kept)}/{sum(v['lookalikes'] for v in kept)}; "
              "wiped kinds: " + (", ".join(f"{k[12:]} {v['lookalikes'] - v['kept']}" for k, v in by.items()
                                          if "lookalikes" in v and v["kept"] < v["lookalikes"]) or "-"))


def _blocks(rng: random.Random, pieces: list[str], megabytes: float) -> tuple[list[str], float]:
    blocks, size = [], 0
    while size < megabytes * 1e6:
        block = "".join(rng.choice(pieces) for _ in range(64))  # ~ one session's message stream
        blocks.append(block)
        size += len(block.encode())
    return blocks, size / 1e6


def transcript_lines() -> list[str]:
    """Every raw line of the recorded real transcripts, in file order."""
    return [line + "\n" for root in TRANSCRIPTS for path in sorted(root.rglob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _mb_per_s(blocks: list[str], mb: float, rounds: int) -> tuple[float, float, float]:
    """(median MB/s of a fresh `Redactor().redact_text` over `blocks`, median MB per CPU-second, its ratio to
    str.lower), each run bracketed by str.lower runs. CPU seconds (`time.process_time`) are what a busy machine
    distorts least: wall time there counts the other processes' turns on the core."""
    cpu: list[float] = []

    def baseline() -> None:
        for block in blocks:
            block.lower()

    def subject(_round: int) -> float:
        redact = Redactor().redact_text  # built outside the clock, caches empty
        start, start_cpu = time.perf_counter(), time.process_time()
        for block in blocks:
            redact(block)
        cpu.append(time.process_time() - start_cpu)
        return time.perf_counter() - start

    runs = bracketed(baseline, subject, rounds)
    ratio, _, _ = median_ratio(runs)
    seconds = sorted(r.subject for r in runs)[len(runs) // 2]
    return mb / seconds, mb / sorted(cpu)[len(cpu) // 2], ratio


def speed(docs: list[dict], megabytes: float, rounds: int) -> None:
    rng = random.Random(0)
    secret_docs = [d["text"] for d in docs]
    mixes = {
        "real transcripts (JSONL lines)": transcript_lines(),
        "typical (1 in 20 has secrets)": FILLER * 19 + rng.sample(secret_docs, 7),
        "dense (corpora only)": secret_docs,
    }
    print(f"\nthroughput, one process ({pin_to_one_core()}), {megabytes:g} MB per mix, median of {rounds} "
          f"bracketed rounds, target {TARGET_MB_S:g} MB/s:")
    rates: dict[str, float] = {}
    for name, pieces in mixes.items():
        blocks, mb = _blocks(rng, pieces, megabytes)
        rate, cpu_rate, ratio = _mb_per_s(blocks, mb, rounds)
        rates[name] = cpu_rate
        print(f"  {name:31} {rate:6.2f} MB/s wall, {cpu_rate:6.2f} MB per CPU-second = "
              f"{cpu_rate / TARGET_MB_S:.2f}x target | ratio to str.lower {ratio:.5f}")
    small = [m for m in "".join(FILLER * 3 + secret_docs[:6]).split("\n\n") if m] * 20
    small_mb = sum(len(m.encode()) for m in small) / 1e6
    rate, _, ratio = _mb_per_s(small, small_mb, rounds)
    print(f"  short messages (dataset rows): {rate / small_mb * len(small):,.0f} messages/s, {rate:.2f} MB/s | "
          f"ratio to str.lower {ratio:.5f}")
    real, typical = rates["real transcripts (JSONL lines)"], rates["typical (1 in 20 has secrets)"]
    print(f"SPEED: real transcripts {real:.2f} MB per CPU-second = {real / TARGET_MB_S:.2f}x the {TARGET_MB_S:g} MB/s "
          f"target; typical mix {typical:.2f} = {typical / TARGET_MB_S:.2f}x (single process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append", help="a corpus file (repeatable; default: all)")
    parser.add_argument("--mb", type=float, default=8.0, help="megabytes of text per speed mix")
    parser.add_argument("--rounds", type=int, default=5, help="bracketed rounds per speed mix")
    parser.add_argument("--no-detect-secrets-alone", action="store_true",
                        help="skip the slow detect-secrets-alone comparison")
    parser.add_argument("--speed-only", action="store_true", help="skip the quality tables")
    args = parser.parse_args()
    paths = args.corpus or [FIXTURES / name for name in CORPORA]
    everything: list[dict] = []
    for path in paths:
        docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not args.speed_only:
            quality(path.name, docs, not args.no_detect_secrets_alone)
        everything.extend(d for d in docs if not d.get("clean"))
    speed(everything, args.mb, args.rounds)


if __name__ == "__main__":
    main()
