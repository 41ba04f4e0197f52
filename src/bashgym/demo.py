"""`bashgym demo`: the whole flywheel on bundled sessions, in a throwaway home, on the CPU.

import (real Claude Code CLI transcripts shipped in bashgym/samples) → judge → redacted dataset → tiny
model built locally → LoRA SFT for a few steps → gym eval of base and adapter → rollouts on the practice
suite come back as sessions → judged → a second dataset (KTO: good and failed turns, labelled) includes
them → a Markdown report with PNG charts.

Each stage runs the real `bashgym` command in a subprocess with `--json`, exactly as a user would, so the
demo exercises the same contracts the docs show; a failing stage stops the demo with its output.
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

SAMPLES = Path(__file__).resolve().parent / "samples"

# Small on purpose: the demo must finish in minutes on 2 CPU cores.
TRAIN_YAML = """\
# bashgym demo: LoRA SFT on the tiny local model (TRL SFTConfig keys + lora:)
max_steps: {steps}
learning_rate: 0.005
per_device_train_batch_size: 2
logging_steps: 1
max_length: 1024
lora:
  r: 8
  lora_alpha: 16
"""


@dataclass
class DemoResult:
    home: Path
    report: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


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


def spread_tasks(suite: str, n: int) -> list[str]:
    """n task ids taking categories in turn, so a short eval still covers every kind of task."""
    from bashgym.gym.task import load_suite

    by_category: dict[str, list[str]] = {}
    for task in load_suite(suite):
        by_category.setdefault(task.category, []).append(task.id)
    picked: list[str] = []
    while len(picked) < n and any(by_category.values()):
        for ids in by_category.values():
            if ids and len(picked) < n:
                picked.append(ids.pop(0))
    return picked


def _stages(home: Path, steps: int, tasks: int) -> list[tuple[str, str, Callable[[DemoResult], dict[str, Any]]]]:
    models = home / "models"

    def import_samples(r: DemoResult) -> dict[str, Any]:
        return bashgym(home, "import", "claude", str(SAMPLES / "claude"))

    def judge(r: DemoResult) -> dict[str, Any]:
        return bashgym(home, "judge")

    def dataset(r: DemoResult) -> dict[str, Any]:
        # --tools bash: the gym's action space, system prompt and tool schema, so the adapter is trained on the
        # conversation the eval stage holds with it (docs/training.md, "One conversation at every stage")
        return bashgym(home, "dataset", "build", "--name", "demo-sft", "--tools", "bash")

    def tiny(r: DemoResult) -> dict[str, Any]:
        bashgym(home, "model", "tiny", str(models / "tiny"), timeout=600, json_output=False)
        return {"path": str(models / "tiny")}

    def train(r: DemoResult) -> dict[str, Any]:
        config = home / "train-demo.yaml"
        config.write_text(TRAIN_YAML.format(steps=steps))
        return bashgym(home, "train", "sft", "--config", str(config), "--base-model", str(models / "tiny"),
                       "--dataset", r.stages["dataset"]["id"], "--gpu", "auto")

    def evaluate(r: DemoResult) -> dict[str, Any]:
        picks = [arg for task_id in spread_tasks("builtin", tasks) for arg in ("--task", task_id)]
        return bashgym(home, "eval", "--model", str(models / "tiny"), "--adapter", r.stages["train"]["run_id"],
                       "--compare", "--tasks", "builtin", *picks, "-k", "1", "--max-turns", "3",
                       "--max-tokens", "48", "--png", str(home / "report" / "eval-compare.png"))

    def rollouts(r: DemoResult) -> dict[str, Any]:
        out = bashgym(home, "eval", "--model", str(models / "tiny"), "--adapter", r.stages["train"]["run_id"],
                      "--tasks", "practice", "-k", "1", "--max-turns", "2", "--max-tokens", "48")
        judged = bashgym(home, "judge")
        return {"eval": out, "judge": judged}

    def dataset2(r: DemoResult) -> dict[str, Any]:
        return bashgym(home, "dataset", "build", "--name", "demo-kto", "--format", "kto")

    return [
        ("import", "import the bundled Claude Code sessions", import_samples),
        ("judge", "judge every session and turn", judge),
        ("dataset", "build a redacted SFT dataset", dataset),
        ("tiny", "build a tiny model locally (no download)", tiny),
        ("train", f"train a LoRA adapter ({steps} SFT steps)", train),
        ("eval", f"gym eval: base vs adapter on {tasks} tasks", evaluate),
        ("rollouts", "practice rollouts come back as sessions, judged", rollouts),
        ("dataset2", "second dataset (KTO) includes the rollouts", dataset2),
    ]


def run_demo(home: Path, *, steps: int = 30, tasks: int = 8,
             on_stage: Callable[[str, str, str], None] | None = None) -> DemoResult:
    """Run every stage in order; `on_stage(name, description, "start"|"done")` drives the progress view."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "report").mkdir(exist_ok=True)
    result = DemoResult(home=home, report=home / "report" / "report.md")
    for name, description, fn in _stages(home, steps, tasks):
        if on_stage:
            on_stage(name, description, "start")
        start = time.perf_counter()
        result.stages[name] = fn(result)
        result.seconds[name] = time.perf_counter() - start
        if on_stage:
            on_stage(name, description, "done")
    from bashgym.demo_report import write_report

    write_report(result)
    return result


def clean_home(home: Path) -> None:
    """Start from nothing, but only in a directory that looks like a demo home (never a user's store)."""
    if home.exists() and any(home.iterdir()):
        if not (home / "report").exists() and (home / "bashgym.db").exists():
            raise BashgymError(f"{home} holds a bashgym store that is not a demo's; pick another --home")
        shutil.rmtree(home)
