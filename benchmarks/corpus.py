"""Generate a transcript corpus of a given size for the import benchmarks, from real-CLI transcripts.

Sessions are copies of the bundled real Claude Code transcripts with fresh ids, and tool outputs of
varied realistic sizes (test logs, file listings, source files), so lines look like the ones users have.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "bashgym" / "samples" / "claude" / "projects"

FILLERS = [
    lambda r, n: "".join(f"tests/test_mod{i}.py::test_case_{j} PASSED [{j % 100:3d}%]\n" for i in range(n // 60 + 1) for j in range(1)),
    lambda r, n: "".join(f"-rw-r--r-- 1 dev dev {r.randint(10, 99999):6d} Nov 25 14:{r.randint(10, 59)} file_{i}.py\n" for i in range(n // 50 + 1)),
    lambda r, n: "".join(f"    def method_{i}(self, value: int) -> int:\n        return value * {i}  # ünïcode ✓\n" for i in range(n // 80 + 1)),
    # a Read result: numbered source lines with quotes and tabs (JSON-escaped in the transcript)
    lambda r, n: "".join(f"{i:6d}\u2192\tif key == \"k{i}\": return {{\"path\": \"/src/m{i}.py\", \"ok\": True}}\n"
                         for i in range(1, n // 70 + 2)),
]


def output_size(rng: random.Random, kind: str) -> int:
    """A tool output's length: "mixed" (mostly short, a long tail) or "long" (file reads and test logs of
    5-50 KB, the bulk of real sessions' bytes)."""
    if kind == "long":
        return rng.randint(5_000, 50_000)
    return min(int(rng.lognormvariate(7.5, 1.3)), 400_000)


def make_corpus(out: Path, size_mb: float, seed: int = 0, kind: str = "mixed") -> tuple[int, int]:
    """Write JSONL transcripts under `out` until about size_mb MB; returns (files, bytes)."""
    rng = random.Random(seed)
    templates = [[json.loads(x) for x in p.read_text().splitlines()] for p in sorted(SAMPLES.rglob("*.jsonl"))
                 if "subagents" not in str(p)]
    target = int(size_mb * 1e6)
    written = files = 0
    while written < target:
        lines = templates[files % len(templates)]
        sid = f"{files:08x}-{rng.randrange(16**4):04x}-4000-8000-{rng.randrange(16**12):012x}"
        d = out / f"-proj-{files % 13}"
        d.mkdir(parents=True, exist_ok=True)
        buf = []
        for _ in range(rng.randint(2, 6)):  # several rounds of the same conversation shape
            for obj in lines:
                obj = dict(obj)
                if "sessionId" in obj:
                    obj["sessionId"] = sid
                msg = obj.get("message")
                if obj.get("type") == "user" and isinstance(msg, dict) and isinstance(msg.get("content"), list):
                    blocks = []
                    for b in msg["content"]:
                        if isinstance(b, dict) and b.get("type") == "tool_result":
                            n = output_size(rng, kind)
                            b = dict(b, content=FILLERS[rng.randrange(len(FILLERS) if kind == "long" else 3)](rng, n))
                            detail = obj.get("toolUseResult")
                            if isinstance(detail, dict) and "stdout" in detail:
                                # The CLI repeats a Bash result's text in toolUseResult.stdout, as here.
                                obj["toolUseResult"] = dict(detail, stdout=b["content"])
                        blocks.append(b)
                    obj["message"] = dict(msg, content=blocks)
                # Compact and unescaped, as the CLI writes them (JavaScript's JSON.stringify).
                buf.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        data = ("\n".join(buf) + "\n").encode()
        (d / f"{sid}.jsonl").write_bytes(data)
        written += len(data)
        files += 1
    return files, written
