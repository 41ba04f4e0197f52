"""The whole flywheel: `bashgym demo` end to end, and live capture → … → a second dataset with rollouts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.gym.task import load_suite  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.claude_cli import CLAUDE_PACKAGE, npm_bin  # noqa: E402
from harness.make_claude_fixtures import run_scenario  # noqa: E402
from harness.scenarios import SCENARIOS  # noqa: E402

pytestmark = pytest.mark.slow
PNG = b"\x89PNG\r\n\x1a\n"


def bashgym(*args: str, timeout: float = 600) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bashgym.cli", *args, "--json"], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    return json.loads(out[min(i for i in (out.find("{"), out.find("[")) if i >= 0):])


def test_demo_runs_end_to_end_and_reports_real_numbers(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "bashgym.cli", "demo", "--home", str(home), "--steps", "8",
                           "--tasks", "4"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = home / "report" / "report.md"
    assert f"report: {report}" in proc.stdout.replace("\n", "")
    text = report.read_text()
    for section in ("## 1. Sessions and tiers", "## 2. Dataset", "## 3. Training", "## 4. Gym eval: base vs adapter",
                    "## 5. The flywheel closes", "## Timings"):
        assert section in text
    for png in ("tiers.png", "dataset.png", "loss.png", "eval-compare.png"):
        assert (home / "report" / png).read_bytes()[:8] == PNG, png
        assert f"({png})" in text
    # Real numbers: six sessions imported from the bundled real-CLI transcripts, judged into tiers.
    assert re.search(r"→ 6 sessions, 31 steps", text)
    sessions_row = re.search(r"\| sessions \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", text)
    assert sessions_row and sum(map(int, sessions_row.groups())) == 6
    loss = re.search(r"8 steps on cpu float32; loss (\d+\.\d+) → (\d+\.\d+)", text)
    assert loss and float(loss.group(1)) != float(loss.group(2))
    assert re.search(r"\| samples \| 4 \| 4 \|", text)
    kto = re.search(r"has (\d+) examples from sources .*— (\d+) of its sessions are gym rollouts", text)
    assert kto and int(kto.group(2)) == len(load_suite("practice"))
    with Store(home / "bashgym.db") as store:
        assert store.count_sessions(source="gym") == 4 * 2 + len(load_suite("practice"))
        assert store.count_sessions(source="claude_code") == 6


def test_practice_suite_is_sound_and_apart_from_the_eval_suite() -> None:
    practice, builtin = load_suite("practice"), load_suite("builtin")
    assert not {t.id for t in practice} & {t.id for t in builtin}
    result = subprocess.run([sys.executable, "-m", "bashgym.cli", "gym", "check",
                             *[str(t.path) for t in practice]], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_flywheel_from_live_capture_to_a_dataset_with_rollouts(isolated_home: Path, tmp_path: Path) -> None:
    """capture (real CLI + hooks) → judge → dataset → train (tiny) → eval → rollouts as sessions → dataset 2."""
    claude = npm_bin(CLAUDE_PACKAGE, "claude")
    assert claude is not None, "npm is required: the test installs @anthropic-ai/claude-code"
    subprocess.run([sys.executable, "-m", "bashgym.cli", "hooks", "install"], check=True, capture_output=True)
    for name in ("fix_failing_test", "list_and_edit"):
        run_scenario(claude, next(s for s in SCENARIOS if s.name == name), isolated_home, tmp_path / "work")
    db = Path(os.environ["BASHGYM_HOME"]) / "bashgym.db"
    deadline = time.time() + 60
    while time.time() < deadline:
        if db.exists():
            with Store(db) as store:
                if store.count_sessions(source="claude_code") == 2:
                    break
        time.sleep(0.3)

    judged = bashgym("judge")
    assert judged["sessions"] == 2 and judged["session_tiers"].get("gold") == 2
    first = bashgym("dataset", "build", "--name", "fly")
    assert first["counts"]["examples"] == 2 and first["redacted"]
    tiny = tmp_path / "tiny"
    subprocess.run([sys.executable, "-m", "bashgym.cli", "model", "tiny", str(tiny)], check=True, capture_output=True)
    run = bashgym("train", "sft", "--base-model", str(tiny), "--dataset", first["id"], "--max-steps", "3")
    assert run["metrics"]["steps"] == 3
    ev = bashgym("eval", "--model", str(tiny), "--adapter", run["run_id"], "--tasks", "practice", "-k", "1",
                 "--max-turns", "2", "--max-tokens", "24")
    n_practice = len(load_suite("practice"))
    with Store(db) as store:
        rollouts = store.list_sessions(source="gym", limit=None)
        assert len(rollouts) == n_practice
        meta = store.get_session(rollouts[0]["id"]).meta
        assert meta["eval_id"] and meta["task_id"].startswith("practice-") and "reward" in meta
    assert ev  # the eval printed its summary
    rejudged = bashgym("judge")
    assert rejudged["sessions"] == n_practice  # incremental: only the new rollouts
    second = bashgym("dataset", "build", "--name", "fly2", "--format", "kto")
    assert second["counts"]["sources"].get("gym") == n_practice
    with Store(db) as store:
        ids = set(store.dataset_session_ids(second["id"]))
    assert {r["id"] for r in rollouts} <= ids
