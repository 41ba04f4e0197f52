"""TrainerCallbacks: a rich progress bar with the latest loss, and a metrics.jsonl that survives a crash."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
from transformers import TrainerCallback

LOSS_KEYS = ("loss", "eval_loss", "reward")


class ProgressCallback(TrainerCallback):
    """Drives a `rich.progress.Progress` (from commands.common.progress) over the trainer's steps."""

    def __init__(self, progress: Any, description: str = "training") -> None:
        self.progress = progress
        self.description = description
        self.task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:  # one bar per launch, not one per GPU
            return
        self.progress.start()  # only now: an error before training shows no empty bar
        self.task = self.progress.add_task(self.description, total=state.max_steps, completed=state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if self.task is None or not logs:
            return
        shown = [f"{k} {logs[k]:.4g}" for k in LOSS_KEYS if isinstance(logs.get(k), int | float)]
        if shown:
            self.progress.update(self.task, description=f"{self.description} · {' · '.join(shown)}")
            self.progress.console.print(f"step {state.global_step}: {' · '.join(shown)}")


class MetricsFileCallback(TrainerCallback):
    """Appends each log record (step, loss, lr, ...) to metrics.jsonl as it happens.

    A resumed run starts again from its checkpoint, so it logs again the steps between that checkpoint and
    the interruption: at train begin the file keeps only the records up to the step training starts from, and
    each step appears once.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not self.path.is_file():
            return
        kept = [line for line in self.path.read_bytes().splitlines()
                if line.strip() and _record_step(line) <= state.global_step]
        self.path.write_bytes(b"".join(line + b"\n" for line in kept))

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or not state.is_world_process_zero:
            return
        record = {"step": state.global_step, "epoch": state.epoch, **logs}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(orjson.dumps(record, default=_finite_or_str) + b"\n")


def _record_step(line: bytes) -> float:
    """The step of one metrics.jsonl record; an unreadable line (a crash mid-write) sorts after every step."""
    try:
        step = orjson.loads(line).get("step")
    except (orjson.JSONDecodeError, AttributeError):
        return math.inf
    return step if isinstance(step, int | float) else math.inf


def _finite_or_str(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)
