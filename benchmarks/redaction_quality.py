"""Redaction quality and speed: bashgym's Redactor vs detect-secrets alone, on the same labelled corpus.

    python benchmarks/redaction_quality.py [--mb 8] [--corpus PATH]

Quality: recall = planted secrets/PII removed without a trace; precision = look-alikes (commit ids, hashes,
UUIDs, base64 images, placeholders, private IPs...) kept byte for byte plus clean documents left unchanged.
detect-secrets runs with its default plugins (entropy and keyword included) line by line via `scan_line`,
and every value it reports is replaced, which is what using it alone as a redactor means.

Speed: MB/s of `Redactor.redact_text` over transcript-like text, against a regex-free baseline that touches
every byte once (`str.lower`), as a ratio; on a typical mix (ordinary tool output, 1 document in 20 carrying
secrets) and on the dense corpus itself.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from bashgym.factory.redact import Redactor
from bashgym.factory.redact_eval import score

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "redaction" / "corpus.jsonl"

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


def quality(docs: list[dict]) -> None:
    print(f"corpus: {len(docs)} documents, {sum(len(d['secrets']) for d in docs)} planted secrets/PII, "
          f"{sum(len(d['keep']) for d in docs)} look-alikes, {sum(d['clean'] for d in docs)} clean documents")
    rows = [("bashgym Redactor", score(docs, Redactor().redact_text)),
            ("bashgym, own rules only", score(docs, Redactor(use_detect_secrets=False).redact_text))]
    try:
        rows.append(("detect-secrets alone", score(docs, detect_secrets_alone)))
    except ImportError:
        print("detect-secrets is not installed: pip install 'bashgym[factory]'")
    print(f"{'':26} {'recall':>8} {'precision':>10}  missed kinds")
    for name, s in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s["missed_kinds"].items(), key=lambda kv: -kv[1])[:6])
        print(f"{name:26} {s['recall']:8.1%} {s['precision']:10.1%}  {kinds or '-'}")


def _blocks(rng: random.Random, pieces: list[str], megabytes: float) -> tuple[list[str], float]:
    blocks, size = [], 0
    while size < megabytes * 1e6:
        block = "".join(rng.choice(pieces) for _ in range(64))  # ~ one session's message stream
        blocks.append(block)
        size += len(block.encode())
    return blocks, size / 1e6


def _rate(fn, blocks: list[str], mb: float) -> tuple[float, float]:
    start = time.perf_counter()
    for block in blocks:
        fn(block)
    seconds = time.perf_counter() - start
    return mb / seconds, seconds


def speed(docs: list[dict], megabytes: float) -> None:
    rng = random.Random(0)
    secret_docs = [d["text"] for d in docs]
    mixes = {
        "typical (1 in 20 has secrets)": FILLER * 19 + rng.sample(secret_docs, 7),
        "dense (corpus only)": secret_docs,
    }
    redactor = Redactor()
    print(f"\nthroughput, one process, {megabytes:.0f} MB per mix:")
    typical = 0.0
    for name, pieces in mixes.items():
        blocks, mb = _blocks(rng, pieces, megabytes)
        base, base_s = _rate(str.lower, blocks, mb)
        subject, subject_s = _rate(redactor.redact_text, blocks, mb)
        typical = typical or subject
        print(f"  {name:30} baseline str.lower {base:8.1f} MB/s | bashgym redact_text {subject:6.2f} MB/s | "
              f"ratio {base_s / subject_s:.4f}")
    small = [m for m in "".join(FILLER * 3 + secret_docs[:6]).split("\n\n") if m] * 20
    small_mb = sum(len(m.encode()) for m in small) / 1e6
    base, base_s = _rate(str.lower, small, small_mb)
    rate, seconds = _rate(redactor.redact_text, small, small_mb)
    print(f"  short messages (dataset rows): {len(small) / seconds:,.0f} messages/s, {rate:.2f} MB/s | "
          f"baseline str.lower {len(small) / base_s:,.0f} messages/s | ratio {base_s / seconds:.4f}")
    print(f"SPEED: typical text {typical:.2f} MB/s; short messages {len(small) / seconds:,.0f} messages/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--mb", type=float, default=8.0, help="megabytes of text per speed mix")
    args = parser.parse_args()
    docs = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    quality(docs)
    speed(docs, args.mb)


if __name__ == "__main__":
    main()
