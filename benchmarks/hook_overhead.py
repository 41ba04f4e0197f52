"""Hook cost per event vs a bare interpreter start, measured in the same run.

    python benchmarks/hook_overhead.py [--runs 200]

Baseline: `python -c pass` on the same interpreter. Subject: the hook exactly as settings.json runs it
(`python -S hook.py`) fed a typical PostToolUse event (~3 KB). Prints medians and subject/baseline.
Target: ≤ 1.2×.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bashgym.capture.install import hook_script

EVENT = json.dumps({
    "session_id": "0b3c1f1e-5f7a-4c43-9d55-0f0b1d0c9a11", "transcript_path": "/nonexistent/t.jsonl",
    "cwd": "/home/dev/project", "hook_event_name": "PostToolUse", "tool_name": "Bash",
    "tool_input": {"command": "pytest -q tests/test_store.py", "description": "Run the store tests"},
    "tool_response": {"stdout": "." * 40 + "\n" + "40 passed in 1.23s\n" * 100, "stderr": "", "interrupted": False},
    "tool_use_id": "toolu_01ABCDEF", "duration_ms": 1234,
}).encode()


def timed(cmd: list[str], payload: bytes, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, input=payload, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "BASHGYM_HOME": home}
        bare = [sys.executable, "-c", "pass"]
        hook = [sys.executable, "-S", str(hook_script())]
        for _ in range(10):  # warm the page cache
            timed(bare, b"", env)
            timed(hook, EVENT, env)
        base, subj = [], []
        for _ in range(args.runs):  # interleaved so machine noise hits both alike
            base.append(timed(bare, b"", env))
            subj.append(timed(hook, EVENT, env))
        lines = (Path(home) / "events" / "events.jsonl").read_bytes().count(b"\n")
    b, s = statistics.median(base), statistics.median(subj)
    print(f"baseline  python -c pass          median {b * 1000:7.2f} ms  ({args.runs} runs)")
    print(f"subject   hook, PostToolUse 3 KB  median {s * 1000:7.2f} ms  ({lines} events written)")
    print(f"ratio     hook / bare = {s / b:.2f}x   (target <= 1.2x)")


if __name__ == "__main__":
    main()
