"""One training run from start to finish: resolve data and device, record a Run, train with TRL, save the
adapter, evaluate, plot, and store the metrics — or mark the run interrupted so `--resume` can continue.

Artifacts under the run's output_dir: checkpoint-N/ (for resume), adapter/ (the final LoRA + tokenizer),
metrics.jsonl (every log record, written as it happens), loss.png, run.json (spec + final metrics).
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bashgym.errors import ConfigError, NotFoundError
from bashgym.paths import home_dir
from bashgym.store import Store
from bashgym.train.config import TrainSpec, build_lora_config, build_trl_config
from bashgym.train.data import TrainingData, load_training_data, tool_names
from bashgym.train.fit import FitReport, fit_dataset
from bashgym.train.gpu import DevicePlan, load_model, locate_model, plan_device
from bashgym.train.launch import RUN_ID_ENV

ADAPTER_DIR = "adapter"
LOSS_PNG = "loss.png"
METRICS_FILE = "metrics.jsonl"


@dataclass
class RunResult:
    run_id: str
    kind: str
    output_dir: Path
    adapter_dir: Path
    metrics: dict[str, Any]
    loss_png: Path | None
    device: str
    resumed_from: str | None = None
    notes: list[str] = field(default_factory=list)


def new_run_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def runs_dir() -> Path:
    return home_dir() / "runs"


def last_checkpoint(output_dir: Path) -> str | None:
    if not output_dir.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir))


def _trainer_module(kind: str) -> Any:
    from bashgym.train import dpo, grpo, kto, sft

    return {"sft": sft, "dpo": dpo, "kto": kto, "grpo": grpo}[kind]


def process_rank() -> tuple[int, int]:
    """(rank, world size) under `accelerate launch` / torchrun; (0, 1) for a plain process."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def prepare_run(spec: TrainSpec, store: Store, *, resume: bool) -> tuple[str, Path, str | None]:
    """(run id, output dir, checkpoint to resume from). A resume reuses the run row of that output dir;
    without an output_dir it picks the newest unfinished run of the same kind.

    Under a multi-process launch every process must write to the same place, so output_dir is required,
    and only rank 0 talks to the store (the others get a placeholder run id)."""
    rank, world = process_rank()
    if world > 1:
        if spec.output_dir is None:
            raise ConfigError("multi-process training (accelerate launch / torchrun) needs an explicit --output-dir "
                              "on a filesystem every process sees")
        output_dir = Path(spec.output_dir).expanduser().resolve()
        if rank != 0:
            return f"{spec.kind}-rank{rank}", output_dir, last_checkpoint(output_dir) if resume else None
    launched_id = os.environ.get(RUN_ID_ENV)  # the id `--num-processes` chose and named the output dir after
    if resume and spec.output_dir is None:
        unfinished = [r for r in store.list_runs(kind=spec.kind) if r["status"] != "completed"]
        if not unfinished:
            raise NotFoundError(f"--resume: no unfinished {spec.kind} run to continue (see `bashgym runs list`)")
        spec.output_dir = unfinished[0]["output_dir"]
    if spec.output_dir is None:
        run_id = new_run_id(spec.kind)
        return run_id, runs_dir() / run_id, None
    output_dir = Path(spec.output_dir).expanduser().resolve()
    checkpoint = last_checkpoint(output_dir)
    previous = store.run_by_output_dir(str(output_dir))
    if resume:
        if checkpoint is None:
            raise NotFoundError(f"--resume: no checkpoint-N directory in {output_dir} to resume from")
        return (previous["id"] if previous else launched_id or new_run_id(spec.kind)), output_dir, checkpoint
    if checkpoint is not None:
        raise ConfigError(
            f"{output_dir} already holds {Path(checkpoint).name} from an earlier run: pass --resume to continue "
            "it, or choose another --output-dir"
        )
    return launched_id or new_run_id(spec.kind), output_dir, None


def train(
    spec: TrainSpec, store: Store, *, resume: bool = False, callbacks: list[Any] | None = None,
    on_plan: Callable[[DevicePlan, TrainingData, str, Path], None] | None = None,
    on_fit: Callable[[dict[str, FitReport]], None] | None = None,
) -> RunResult:
    """Run `spec` to completion and record it; `callbacks` are extra TrainerCallbacks (progress bar);
    `on_fit` hears which examples were longer than max_length (cut to whole messages or dropped)."""
    from bashgym.train.callbacks import MetricsFileCallback

    if not spec.base_model:
        raise ConfigError(f"no base_model in {spec.source}: set it in the config or pass --base-model")
    if not spec.dataset:
        raise ConfigError(f"no dataset in {spec.source}: set it in the config or pass --dataset")
    model_dir = locate_model(spec.base_model)  # before a run is recorded: a bad path leaves no failed run
    plan = plan_device(spec.gpu, load_in_4bit=bool(spec.lora.get("load_in_4bit")))
    data = load_training_data(spec.dataset, store, spec.kind, spec.eval_split)
    run_id, output_dir, checkpoint = prepare_run(spec, store, resume=resume)
    args = build_trl_config(spec, output_dir, plan.trainer_args())
    lora = build_lora_config(spec)
    if spec.kind == "grpo":
        from bashgym.train.grpo import check_vllm

        check_vllm(args)
    if on_plan is not None:
        on_plan(plan, data, run_id, output_dir)

    main_process = process_rank()[0] == 0
    record = {**spec.to_dict(), "output_dir": str(output_dir), "device": plan.describe(),
              "world_size": process_rank()[1]}
    if main_process:
        with store.transaction():
            if store.run_by_output_dir(str(output_dir)) and resume:
                store.update_run(run_id, status="running", finished=False)
            else:
                store.create_run(run_id, spec.kind, dataset_id=data.dataset_id, base_model=spec.base_model,
                                 config=record, output_dir=str(output_dir))
    output_dir.mkdir(parents=True, exist_ok=True)

    trainer = None
    fits: dict[str, FitReport] = {}
    notes = list(plan.notes)
    try:
        model, tokenizer, already_peft = load_model(model_dir, plan, lora if plan.use_unsloth else None)
        fits = fit_splits(data, tokenizer, args, spec.kind)
        notes.extend(line for split, fit in fits.items() if (line := fit.describe(split)))
        if on_fit is not None:
            on_fit(fits)
        trainer = _trainer_module(spec.kind).make_trainer(
            spec, model, tokenizer, args, data, None if already_peft else lora,
            [MetricsFileCallback(output_dir / METRICS_FILE), *(callbacks or [])],
        )
        if callbacks:  # the caller shows progress and loss itself: drop transformers' dict printer
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        output = trainer.train(resume_from_checkpoint=checkpoint)
        metrics: dict[str, Any] = dict(output.metrics)
        if data.eval is not None:
            metrics.update(trainer.evaluate())
        adapter_dir = output_dir / ADAPTER_DIR
        trainer.save_model(str(adapter_dir))  # every process calls it; only the main one writes
        if main_process:
            tokenizer.save_pretrained(str(adapter_dir))
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        partial = _summary({}, trainer.state.log_history if trainer else [], plan, data, fits, trainer)
        partial["error"] = f"{type(exc).__name__}: {exc}"[:500]
        if main_process:
            store.update_run(run_id, status=status, metrics=partial, finished=True)
        raise

    history = trainer.state.log_history
    summary = _summary(metrics, history, plan, data, fits, trainer)
    if not main_process:
        return RunResult(run_id=run_id, kind=spec.kind, output_dir=output_dir, adapter_dir=adapter_dir,
                         metrics=summary, loss_png=None, device=plan.describe(), resumed_from=checkpoint)
    from bashgym.train.plots import plot_loss_curve

    png = plot_loss_curve(history, output_dir / LOSS_PNG, f"training loss — run {run_id}")  # the id names the kind
    summary["loss_png"] = str(png) if png else None
    summary["adapter_dir"] = str(adapter_dir)
    (output_dir / "run.json").write_bytes(
        orjson.dumps({"run_id": run_id, "config": record, "metrics": summary}, option=orjson.OPT_INDENT_2, default=str)
    )
    store.update_run(run_id, status="completed", metrics=summary, finished=True)
    return RunResult(run_id=run_id, kind=spec.kind, output_dir=output_dir, adapter_dir=adapter_dir, metrics=summary,
                     loss_png=png, device=plan.describe(), resumed_from=checkpoint, notes=notes)


def fit_splits(data: TrainingData, tokenizer: Any, args: Any, kind: str) -> dict[str, FitReport]:
    """Cut or drop (and report) the SFT/DPO examples longer than max_length, before TRL would do it silently.
    GRPO trains on prompts only; its completions are as long as max_completion_length lets them be."""
    max_length = getattr(args, "max_length", None)
    if kind == "grpo" or not max_length:
        return {}
    data.train, train_fit = fit_dataset(data.train, tokenizer, max_length)
    if len(data.train) == 0:
        raise ConfigError(f"none of the {train_fit.total} training examples fits max_length {max_length}, not even "
                          "its first reply: raise max_length")
    fits = {"train": train_fit}
    if data.eval is not None:
        data.eval, fits[data.eval_split or "eval"] = fit_dataset(data.eval, tokenizer, max_length)
        if len(data.eval) == 0:
            data.eval = None
    return fits


def _summary(metrics: dict[str, Any], history: list[dict[str, Any]], plan: DevicePlan, data: TrainingData,
             fits: dict[str, FitReport] | None = None, trainer: Any = None) -> dict[str, Any]:
    """What the store keeps: final numbers, the loss series, sizes and device. The example counts are those
    the trainer held after its own preparation, so they are what trained."""
    losses = [(int(r["step"]), float(r["loss"])) for r in history if isinstance(r.get("loss"), int | float)]
    evals = [(int(r["step"]), float(r["eval_loss"])) for r in history if isinstance(r.get("eval_loss"), int | float)]
    rewards = [(int(r["step"]), float(r["reward"])) for r in history if isinstance(r.get("reward"), int | float)]
    out: dict[str, Any] = {k: _clean(v) for k, v in metrics.items()}
    out.update(
        loss_history=losses, eval_loss_history=evals, reward_history=rewards,
        first_loss=losses[0][1] if losses else None, final_loss=losses[-1][1] if losses else None,
        steps=max((int(r.get("step", 0)) for r in history), default=0),
        train_examples=_trained_count(trainer, "train_dataset", data.train),
        eval_examples=_trained_count(trainer, "eval_dataset", data.eval),
        over_max_length={split: fit.to_dict() for split, fit in (fits or {}).items()},
        tools=tool_names(data.train, data.location),
        eval_split=data.eval_split, dataset=data.location, device=plan.describe(),
    )
    return out


def _trained_count(trainer: Any, attr: str, fallback: Any) -> int:
    ds = getattr(trainer, attr, None) if trainer is not None else None
    ds = fallback if ds is None else ds
    return len(ds) if ds is not None and hasattr(ds, "__len__") else 0


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
