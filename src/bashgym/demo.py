"""`bashgym demo`: the whole flywheel on the CPU, measured: does training on judged sessions make a better model?

First the capture side on bundled sessions (recorded with the real Claude Code CLI driven by a scripted
model): import → judge → a redacted dataset. Then the experiment (`bashgym.experiment`): task families with
generated instances give a practice suite and a held-out suite; a scripted expert's practice rollouts are
captured as sessions and judged; the tiny local model is trained on gold+silver sessions and, as an ablation
with the same budget, on every session; base, adapter and ablation are evaluated on the held-out instances;
the adapter's own passing practice rollouts then join the dataset for iteration 2. The report gives every
pass@1 with its n and 95% bootstrap interval, and PNG charts.

The capture stages run the real `bashgym` commands in subprocesses with `--json`, exactly as a user would;
the experiment runs the same library functions those commands call, in one process (imports once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bashgym.errors import BashgymError
from bashgym.experiment import ExperimentConfig

SAMPLES = Path(__file__).resolve().parent / "samples"

@dataclass
class DemoResult:
    home: Path
    report: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    experiment: dict[str, Any] = field(default_factory=dict)


def bashgym(home: Path, *args: str, timeout: float = 900, json_output: bool = True) -> Any:
    """Run one bashgym command in `home` (with --json unless told not to); return its parsed JSON output."""
    env = {**os.environ, "BASHGYM_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "bashgym.cli", *args, *(["--json"] if json_output else [])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise BashgymError(f"demo stage failed: bashgym {' '.join(args)}\n{proc.stderr[-3000:]}{proc.stdout[-2000:]}")
    if not json_output:
        return None
    out = proc.stdout
    start = min((i for i in (out.find("{"), out.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise BashgymError(f"bashgym {' '.join(args)} printed no JSON:\n{out[-2000:]}")
    return json.loads(out[start:])


def _capture_stages(home: Path) -> list[tuple[str, str, Callable[[DemoResult], dict[str, Any]]]]:
    return [
        ("import", "import the bundled Claude Code sessions",
         lambda r: bashgym(home, "import", "claude", str(SAMPLES / "claude"))),
        ("judge", "judge every session and turn", lambda r: bashgym(home, "judge")),
        # --tools bash: the gym's action space, system prompt and tool schema (docs/training.md)
        ("dataset", "build a redacted SFT dataset",
         lambda r: bashgym(home, "dataset", "build", "--name", "demo-sft", "--tools", "bash")),
    ]


def run_demo(home: Path, *, config: ExperimentConfig | None = None,
             on_stage: Callable[[str, str, str], None] | None = None) -> DemoResult:
    """Run every stage in order; `on_stage(name, description, "start"|"done")` drives the progress view."""
    from bashgym.experiment import Experiment

    home.mkdir(parents=True, exist_ok=True)
    (home / "report").mkdir(exist_ok=True)
    result = DemoResult(home=home, report=home / "report" / "report.md")
    for name, description, fn in _capture_stages(home):
        if on_stage:
            on_stage(name, description, "start")
        start = time.perf_counter()
        result.stages[name] = fn(result)
        result.seconds[name] = time.perf_counter() - start
        if on_stage:
            on_stage(name, description, "done")
    experiment = Experiment(home, config or ExperimentConfig(), on_stage=on_stage)
    experiment.run()
    result.experiment = experiment.summary()
    result.seconds.update({f"experiment: {k}": v for k, v in experiment.result.seconds.items()})
    from bashgym.demo_report import write_report

    write_report(result)
    return result


def clean_home(home: Path) -> None:
    """Start from nothing, but only in a directory that looks like a demo home (never a user's store)."""
    if home.exists() and any(home.iterdir()):
        if not (home / "report").exists() and (home / "bashgym.db").exists():
            raise BashgymError(f"{home} holds a bashgym store that is not a demo's; pick another --home")
        shutil.rmtree(home)
