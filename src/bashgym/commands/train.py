"""`bashgym train sft|dpo|kto|grpo`, `bashgym runs list|show`, `bashgym adapter merge|export`, `bashgym model tiny`.

Thin: parse flags, call bashgym.train, print what was done. torch/transformers/trl are imported inside the
commands so `bashgym --help` stays fast and the base install works without the train extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from bashgym.commands.common import (
    HOME_OPTION,
    JSON_OPTION,
    console,
    err_console,
    open_store,
    print_json,
    progress,
)
from bashgym.errors import require
from bashgym.quiet import quiet_libraries

train_app = typer.Typer(help="Train a LoRA adapter with TRL + PEFT (SFT, DPO, GRPO).", no_args_is_help=True)
runs_app = typer.Typer(help="List and inspect training runs.", invoke_without_command=True)
adapter_app = typer.Typer(help="List, merge or export runs' LoRA adapters.", invoke_without_command=True)
model_app = typer.Typer(help="Build local models (no download).", no_args_is_help=True)

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="train.yaml: TRL config keys, lora:, and bashgym keys.")
BASE_MODEL_OPTION = typer.Option(None, "--base-model", help="Hub id or local path of the model to adapt.")
DATASET_OPTION = typer.Option(None, "--dataset", help="bashgym dataset id, or a path to .jsonl/.parquet/a dataset dir.")
OUTPUT_OPTION = typer.Option(None, "--output-dir", help="Where checkpoints and the adapter go (default under $BASHGYM_HOME/runs).")
MAX_STEPS_OPTION = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps.")
GPU_OPTION = typer.Option(None, "--gpu", help="auto | cpu | cuda (auto: CUDA with bf16 and Liger/Unsloth when present).")
RESUME_OPTION = typer.Option(False, "--resume", help="Continue from the last checkpoint of the output dir (or of the newest unfinished run).")
NUM_PROCESSES_OPTION = typer.Option(
    None, "--num-processes", help="Train on N processes launched by accelerate (DDP: one per GPU, or gloo on the CPU).")
ACCELERATE_CONFIG_OPTION = typer.Option(
    None, "--accelerate-config", help="accelerate config file for the launch (DeepSpeed, FSDP, several machines).")
VLLM_SERVER_OPTION = typer.Option(
    None, "--vllm-server", help="Generate with a running `trl vllm-serve` server at this URL (http://HOST:PORT).")


def _train(kind: str, config: Path | None, base_model: str | None, dataset: str | None, output_dir: Path | None,
           max_steps: int | None, gpu: str | None, resume: bool, home: Path | None, as_json: bool,
           num_processes: int | None = None, accelerate_config: Path | None = None,
           vllm_server: str | None = None) -> None:
    require("trl", "train")
    require("peft", "train")
    from bashgym.train.config import load_spec, vllm_server_keys
    from bashgym.train.gpu import locate_model

    overrides: dict[str, Any] = {
        "base_model": base_model, "dataset": dataset, "output_dir": str(output_dir) if output_dir else None,
        "max_steps": max_steps, "gpu": gpu, **(vllm_server_keys(vllm_server) if vllm_server else {}),
    }
    if base_model:  # a wrong model is the commonest mistake: say so before the slow imports below
        locate_model(base_model)
    spec = load_spec(config, kind, overrides)
    if (num_processes is not None and num_processes != 1) or accelerate_config is not None:
        passed = {"--base-model": base_model, "--dataset": dataset, "--max-steps": max_steps, "--gpu": gpu,
                  "--vllm-server": vllm_server}
        flags = [part for flag, value in passed.items() if value is not None for part in (flag, str(value))]
        _launch(kind, spec, config, flags, resume, home, as_json, num_processes, accelerate_config)
        return
    from bashgym.train.callbacks import ProgressCallback
    from bashgym.train.run import process_rank, train

    def announce(plan: Any, data: Any, run_id: str, out: Path) -> None:
        if process_rank()[0] != 0:
            return
        err_console.print(
            f"{kind} run {run_id}: {spec.base_model} on {plan.describe()}, {len(data.train)} train examples"
            + (f", {len(data.eval)} {data.eval_split}" if data.eval is not None else "") + f" → {out}"
        )
        for note in plan.notes:
            err_console.print(f"note: {note}")

    def report_fit(fits: dict[str, Any]) -> None:
        if process_rank()[0] != 0:
            return
        for split, fit in fits.items():
            if line := fit.describe(split):
                err_console.print(f"note: {line}")

    bar = progress()  # started by the callback when training begins, stopped here whatever happens
    try:
        with open_store(home) as store, quiet_libraries():
            result = train(spec, store, resume=resume, callbacks=[ProgressCallback(bar, kind)], on_plan=announce,
                           on_fit=report_fit)
    finally:
        if bar.live.is_started:
            bar.stop()
    if process_rank()[0] != 0:  # under accelerate launch, rank 0 reports
        return
    if as_json:
        print_json({"run_id": result.run_id, "output_dir": str(result.output_dir), "adapter_dir": str(result.adapter_dir),
                    "loss_png": str(result.loss_png) if result.loss_png else None, "metrics": result.metrics})
        return
    m = result.metrics
    console.print(
        f"run {result.run_id} completed: {m['steps']} steps, loss {_fmt(m.get('first_loss'))} → {_fmt(m.get('final_loss'))}"
        + (f", eval_loss {_fmt(m.get('eval_loss'))}" if m.get("eval_loss") is not None else "")
        + (f" (resumed from {Path(result.resumed_from).name})" if result.resumed_from else "")
    )
    console.print(f"adapter: {result.adapter_dir}")
    if result.loss_png:
        console.print(f"loss curve: {result.loss_png}")
    console.print(f"next: bashgym adapter merge {result.run_id}  ·  bashgym adapter export {result.run_id}")


def _launch(kind: str, spec: Any, config: Path | None, flags: list[str], resume: bool, home: Path | None,
            as_json: bool, num_processes: int | None, accelerate_config: Path | None) -> None:
    """Start this same command on every process through `accelerate launch` (train/launch.py). The output
    dir and run id are settled here first, so every process writes to one place and errors come before
    any process starts."""
    import shlex

    from bashgym.errors import BashgymError, ConfigError
    from bashgym.train.launch import check_launch_flags, launch_args, run_launch
    from bashgym.train.run import prepare_run, process_rank

    check_launch_flags(num_processes, accelerate_config)
    if process_rank()[1] > 1:
        raise ConfigError("--num-processes / --accelerate-config inside a process that accelerate (or torchrun) "
                          "already launched: pass them to bashgym, or launch it yourself, not both")
    with open_store(home) as store:
        run_id, out, checkpoint = prepare_run(spec, store, resume=resume)
    args = [*(["--config", str(config.resolve())] if config else []), *flags, "--output-dir", str(out),
            *(["--resume"] if resume else []), *(["--home", str(home.resolve())] if home else []),
            *(["--json"] if as_json else [])]
    cmd = launch_args(kind, args, num_processes=num_processes, accelerate_config=accelerate_config)
    how = f"{num_processes} processes" if num_processes else "the processes"
    how += f" from {accelerate_config}" if accelerate_config else " (DDP; gloo on the CPU)"
    err_console.print(f"launching {kind} run {run_id} on {how} through accelerate → {out}"
                      + (f" (resuming from {Path(checkpoint).name})" if checkpoint else ""))
    err_console.print(f"[dim]accelerate launch {escape(shlex.join(cmd))}[/dim]")
    code = run_launch(cmd, run_id)
    if code != 0:
        raise BashgymError(f"the launched {kind} run {run_id} exited with code {code}; each process's output is above "
                           f"(`bashgym runs show {run_id}`)")


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


@train_app.command("sft")
def train_sft(
    config: Path | None = CONFIG_OPTION, base_model: str | None = BASE_MODEL_OPTION, dataset: str | None = DATASET_OPTION,
    output_dir: Path | None = OUTPUT_OPTION, max_steps: int | None = MAX_STEPS_OPTION, gpu: str | None = GPU_OPTION,
    resume: bool = RESUME_OPTION, num_processes: int | None = NUM_PROCESSES_OPTION,
    accelerate_config: Path | None = ACCELERATE_CONFIG_OPTION, home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Supervised fine-tuning on `messages` (+ `tools`) conversations, assistant-only loss by default.

    Example: bashgym train sft --config train.yaml --dataset ds-mywork-v1 --max-steps 200
    """
    _train("sft", config, base_model, dataset, output_dir, max_steps, gpu, resume, home, as_json, num_processes,
           accelerate_config)


@train_app.command("dpo")
def train_dpo(
    config: Path | None = CONFIG_OPTION, base_model: str | None = BASE_MODEL_OPTION, dataset: str | None = DATASET_OPTION,
    output_dir: Path | None = OUTPUT_OPTION, max_steps: int | None = MAX_STEPS_OPTION, gpu: str | None = GPU_OPTION,
    resume: bool = RESUME_OPTION, num_processes: int | None = NUM_PROCESSES_OPTION,
    accelerate_config: Path | None = ACCELERATE_CONFIG_OPTION, home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Direct preference optimisation on `prompt` / `chosen` / `rejected` pairs.

    Example: bashgym train dpo --config dpo.yaml --dataset ds-prefs-v2
    """
    _train("dpo", config, base_model, dataset, output_dir, max_steps, gpu, resume, home, as_json, num_processes,
           accelerate_config)


@train_app.command("kto")
def train_kto(
    config: Path | None = CONFIG_OPTION, base_model: str | None = BASE_MODEL_OPTION, dataset: str | None = DATASET_OPTION,
    output_dir: Path | None = OUTPUT_OPTION, max_steps: int | None = MAX_STEPS_OPTION, gpu: str | None = GPU_OPTION,
    resume: bool = RESUME_OPTION, num_processes: int | None = NUM_PROCESSES_OPTION,
    accelerate_config: Path | None = ACCELERATE_CONFIG_OPTION, home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Unpaired preference optimisation (KTO) on `prompt` / `completion` / `label` rows (`--format kto`).

    Example: bashgym train kto --config kto.yaml --dataset ds-demo-kto-v1
    """
    _train("kto", config, base_model, dataset, output_dir, max_steps, gpu, resume, home, as_json, num_processes,
           accelerate_config)


@train_app.command("grpo")
def train_grpo(
    config: Path | None = CONFIG_OPTION, base_model: str | None = BASE_MODEL_OPTION, dataset: str | None = DATASET_OPTION,
    output_dir: Path | None = OUTPUT_OPTION, max_steps: int | None = MAX_STEPS_OPTION, gpu: str | None = GPU_OPTION,
    resume: bool = RESUME_OPTION, num_processes: int | None = NUM_PROCESSES_OPTION,
    accelerate_config: Path | None = ACCELERATE_CONFIG_OPTION, vllm_server: str | None = VLLM_SERVER_OPTION,
    home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION,
) -> None:
    """Group-relative policy optimisation with reward functions named as "module:function" in the config.

    Example: bashgym train grpo --config grpo.yaml   # reward_funcs: [bashgym.gym.rewards:bash_task_reward]
    """
    _train("grpo", config, base_model, dataset, output_dir, max_steps, gpu, resume, home, as_json, num_processes,
           accelerate_config, vllm_server)


@runs_app.callback()
def _runs(ctx: typer.Context) -> None:
    """Bare `bashgym runs` lists the newest runs."""
    if ctx.invoked_subcommand is None:
        list_runs(kind=None, status=None, limit=20, home=None, as_json=False)


@runs_app.command("list")
def list_runs(
    kind: str | None = typer.Option(None, "--kind", help="Only sft, dpo or grpo runs."),
    status: str | None = typer.Option(None, "--status", help="Only running, completed, interrupted or failed runs."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many rows."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List training runs, newest first.

    Example: bashgym runs list --kind sft --status completed
    """
    with open_store(home) as store:
        rows = store.list_runs(kind=kind, status=status, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} runs")
    for col in ("id", "kind", "status", "dataset", "base model", "steps", "final loss", "created"):
        table.add_column(col, justify="right" if col in ("steps", "final loss") else "left", no_wrap=col == "id")
    for r in rows:
        m = r["metrics"]
        table.add_row(r["id"], r["kind"], r["status"], r["dataset_id"] or Path(m.get("dataset") or "").name,
                      _tail(r["base_model"]), str(m.get("steps", "")), _fmt(m.get("final_loss")),
                      (r["created_at"] or "")[:16].replace("T", " "))
    console.print(table)


@runs_app.command("show")
def show_run(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one run: config, metrics, artifacts and the sessions it learned from.

    Example: bashgym runs show sft-20261125 --json
    """
    with open_store(home) as store:
        row = store.get_run(run)
        row["session_ids"] = store.run_session_ids(row["id"])
    if as_json:
        print_json(row)
        return
    m = row["metrics"]
    console.print(f"[bold]{row['id']}[/bold]  {row['kind']}  {row['status']}")
    console.print(f"base model: {row['base_model']}")
    console.print(f"dataset: {row['dataset_id'] or m.get('dataset') or '-'}  ({m.get('train_examples', '?')} train, "
                  f"{m.get('eval_examples', 0)} eval)")
    console.print(f"sessions: {len(row['session_ids'])}")
    if m.get("tools"):
        console.print(f"tools: {', '.join(m['tools'])}")
    for split, fit in (m.get("over_max_length") or {}).items():
        for what in ("truncated", "dropped"):
            if fit.get(what):
                console.print(f"{split}: {len(fit[what])} {what} (longer than max_length {fit.get('max_length')}): "
                              f"{', '.join(fit[what])}")
    console.print(f"device: {m.get('device') or row['config'].get('device', '-')}")
    console.print(f"created {row['created_at']}  finished {row['finished_at'] or '-'}")
    console.print(f"steps {m.get('steps', '-')}  loss {_fmt(m.get('first_loss'))} → {_fmt(m.get('final_loss'))}"
                  + (f"  eval_loss {_fmt(m.get('eval_loss'))}" if m.get("eval_loss") is not None else ""))
    for key in ("train_runtime", "train_samples_per_second"):
        if key in m:
            console.print(f"{key}: {m[key]}")
    console.print(f"output: {row['output_dir']}")
    for key in ("adapter_dir", "loss_png", "merged_dir", "export_dir"):
        if m.get(key):
            console.print(f"{key.replace('_', ' ')}: {m[key]}")
    if m.get("error"):
        console.print(f"[red]error: {escape(str(m['error']))}[/red]")


def _tail(text: str | None, width: int = 32) -> str:
    text = text or ""
    return text if len(text) <= width else "…" + text[-(width - 1):]


@adapter_app.callback()
def _adapters(ctx: typer.Context) -> None:
    """Bare `bashgym adapter` lists the runs that saved an adapter."""
    if ctx.invoked_subcommand is None:
        list_adapters(home=None, as_json=False)


@adapter_app.command("list")
def list_adapters(home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the runs that saved a LoRA adapter, newest first, with where it was merged or exported.

    Example: bashgym adapter list --json
    """
    with open_store(home) as store:
        rows = [r for r in store.list_runs(limit=1000) if (r["metrics"] or {}).get("adapter_dir")]
    found = [{"run": r["id"], "kind": r["kind"], "status": r["status"], "base_model": r["base_model"],
              **{k: r["metrics"].get(k) for k in ("adapter_dir", "merged_dir", "export_dir")}} for r in rows]
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no adapters yet — train one with `bashgym train sft --config train.yaml`")
        return
    table = Table(title=f"{len(found)} adapters")
    for col in ("run", "kind", "base model", "adapter dir", "merged", "exported"):
        table.add_column(col, no_wrap=col == "run", overflow="fold")
    for a in found:
        table.add_row(a["run"], a["kind"], _tail(a["base_model"], 24), a["adapter_dir"],
                      "yes" if a["merged_dir"] else "-", "yes" if a["export_dir"] else "-")
    console.print(table)


@adapter_app.command("merge")
def merge(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    out: Path | None = typer.Option(None, "--out", help="Output dir (default: <run output>/merged)."),
    home: Path | None = HOME_OPTION,
) -> None:
    """Merge a run's LoRA into its base model: a standalone model dir (safetensors + tokenizer).

    Example: bashgym adapter merge sft-20261125-101500-ab12 --out ./my-model
    """
    require("peft", "train")
    from bashgym.train.adapter import merge_run

    with open_store(home) as store:
        row = store.get_run(run)
        with err_console.status(f"merging {row['id']} into {row['base_model']}"):
            path = merge_run(row, out.resolve() if out else None)
        store.update_run(row["id"], metrics={**row["metrics"], "merged_dir": str(path)})
    console.print(f"merged model: {path}")


@adapter_app.command("export")
def export(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    out: Path | None = typer.Option(None, "--out", help="Output dir (default: <run output>/export)."),
    home: Path | None = HOME_OPTION,
) -> None:
    """Export a run's LoRA as a safetensors adapter dir that vLLM and llama.cpp load (README inside).

    Example: bashgym adapter export sft-20261125-101500-ab12 --out ./adapters/mywork
    """
    from bashgym.train.adapter import export_run

    with open_store(home) as store:
        row = store.get_run(run)
        path = export_run(row, out.resolve() if out else None)
        store.update_run(row["id"], metrics={**row["metrics"], "export_dir": str(path)})
    console.print(f"adapter exported: {path} (see {path / 'README.md'} for vLLM / llama.cpp)")


@model_app.command("tiny")
def tiny(out_dir: Path = typer.Argument(..., help="Directory to write the model and tokenizer into.")) -> None:
    """Build the tiny random-weight chat model + locally trained tokenizer (no download) for smoke tests.

    Example: bashgym model tiny ./tiny && bashgym train sft --base-model ./tiny --dataset data.jsonl
    """
    require("transformers", "train")
    from bashgym.train.tiny import build_tiny_model

    with quiet_libraries():
        path = build_tiny_model(out_dir)
    console.print(f"tiny model written to {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.add_typer(runs_app, name="runs")
    app.add_typer(adapter_app, name="adapter")
    app.add_typer(model_app, name="model")
