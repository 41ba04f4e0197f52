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
]


def make_corpus(out: Path, size_mb: float, seed: int = 0) -> tuple[int, int]:
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
                            n = int(rng.lognormvariate(7.5, 1.3))
                            b = dict(b, content=FILLERS[rng.randrange(3)](rng, min(n, 400_000)))
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
