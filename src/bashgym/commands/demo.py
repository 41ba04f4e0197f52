"""`bashgym demo` and `bashgym experiment`: the flywheel, measured on held-out task instances.

The demo runs on the CPU with the tiny local model; `bashgym experiment --config experiment.yaml` runs the
same protocol on a real local model directory (and a GPU).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import typer

from bashgym.commands.common import JSON_OPTION, console, print_json
from bashgym.paths import check_home


def _progress_runner(as_json: bool) -> Any:
    """A context manager yielding an `on_stage` callback that shows stages as they run (on stderr with --json)."""
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    @contextmanager
    def run() -> Any:
        out = Console(stderr=True) if as_json else console
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out) as bar:
            ids: dict[str, int] = {}

            def on_stage(name: str, description: str, state: str) -> None:
                if state == "start":
                    ids[name] = bar.add_task(f"{description} …", total=1)
                else:
                    bar.update(ids[name], description=f"[green]✓[/green] {description}", completed=1)

            yield on_stage

    return run()


def _headline(ev: dict[str, Any]) -> None:
    c = ev["comparisons"]
    console.print(f"held-out instances: {ev['heldout_instances']}")
    for key, label in (("base", "base"), ("adapter", "adapter (gold+silver)"), ("all_sessions", "ablation (all sessions)"),
                       ("iteration2", "iteration 2")):
        e = ev[key]
        console.print(f"  {label:<24} pass@1 {e['pass@1']:.1%}  95% CI [{e['ci95'][0]:.1%}, {e['ci95'][1]:.1%}]  "
                      f"n={e['n']}")
    for key, label in (("adapter_vs_base", "adapter − base"), ("judged_vs_all_sessions", "judged − all sessions"),
                       ("iteration2_vs_iteration1", "iteration 2 − iteration 1")):
        d = c[key]
        console.print(f"  {label:<27} {d['delta']:+.1%}  95% CI [{d['ci95'][0]:+.1%}, {d['ci95'][1]:+.1%}]  n={d['n']}")


def _json_result(summary: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    ev = summary["eval"]
    return {**extra,
            "eval": {"heldout_instances": ev["heldout_instances"],
                     **{k: {"pass@1": ev[k]["pass@1"], "n": ev[k]["n"], "ci95": ev[k]["ci95"]}
                        for k in ("base", "adapter", "iteration2", "all_sessions")},
                     "delta_ci95": ev["delta_ci95"], "comparisons": ev["comparisons"], "families": ev["families"]},
            "stages": summary["stages"], "seconds": summary["seconds"]}


def demo(
    home: Path | None = typer.Option(None, "--home", help="Where the demo keeps its store, models and report "
                                      "(default: a new temporary directory; never your ~/.bashgym)."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="SFT steps of every training run."),
    base_model: Path | None = typer.Option(None, "--base-model", help="A local model directory instead of the tiny "
                                            "model built on the spot."),
    gpu: str = typer.Option("auto", "--gpu", help="auto | cpu | cuda (training)."),
    config: Path | None = typer.Option(None, "--config", help="experiment.yaml with more settings (see "
                                        "`bashgym experiment --help`)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Capture → judge → dataset on bundled sessions, then the flywheel measured on held-out task instances:
    base vs adapter (gold+silver) vs ablation (all sessions) vs iteration 2, with intervals, in a report.

    Example: bashgym demo --home /tmp/bashgym-demo
    """
    from bashgym.demo import clean_home, run_demo
    from bashgym.errors import require
    from bashgym.experiment import load_experiment_config

    for module, extra in (("datasets", "factory"), ("trl", "train"), ("gymnasium", "gym")):
        require(module, extra)
    cfg = load_experiment_config(config, base_model=str(base_model) if base_model else None, gpu=gpu,
                                 sft={"max_steps": steps} if steps else None)
    home = check_home((home or Path(tempfile.mkdtemp(prefix="bashgym-demo-"))).expanduser().resolve())
    clean_home(home)
    if not as_json:
        console.print(f"bashgym demo in [bold]{home}[/bold] (your own store is not touched)")
    with _progress_runner(as_json) as on_stage:
        result = run_demo(home, config=cfg, on_stage=on_stage)
    total = sum(result.seconds.values())
    if as_json:
        print_json(_json_result(result.experiment, {"home": str(home), "report": str(result.report),
                                                    "capture": result.stages, "total_seconds": total}))
        return
    s = result.stages
    console.print(f"imported {s['import']['sessions']} sessions; judged: {s['judge'].get('session_tiers')}")
    console.print(f"dataset {s['dataset']['id']}: {s['dataset']['counts']['examples']} examples (redacted)")
    _headline(result.experiment["eval"])
    console.print(f"[bold]report: {result.report}[/bold] ({total:.0f} s)")


def experiment(
    config: Path | None = typer.Option(None, "--config", help="experiment.yaml (every key is optional)."),
    base_model: Path | None = typer.Option(None, "--base-model", help="Local model directory (overrides the config)."),
    gpu: str | None = typer.Option(None, "--gpu", help="auto | cpu | cuda (overrides the config)."),
    home: Path | None = typer.Option(None, "--home", help="Where the experiment keeps its store, runs and results "
                                      "(default: a new temporary directory; never your ~/.bashgym)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the flywheel protocol on a model: base, SFT on judged sessions, the all-sessions ablation and
    iteration 2, evaluated on held-out task instances with 95% intervals.

    experiment.yaml (all keys optional; defaults in `bashgym.experiment.ExperimentConfig`):

      base_model: ~/models/Qwen2.5-Coder-0.5B-Instruct
      gpu: cuda
      tool_mode: native
      seed: 0
      practice_per_family: 20
      heldout_per_family: 10
      sft: {max_steps: 300, learning_rate: 2.0e-4, per_device_train_batch_size: 8}
      lora: {r: 16, lora_alpha: 32, modules_to_save: null}

    Example: bashgym experiment --config experiment.yaml --home /tmp/exp
    """
    from bashgym.errors import require
    from bashgym.experiment import Experiment, load_experiment_config

    for module, extra in (("datasets", "factory"), ("trl", "train"), ("gymnasium", "gym")):
        require(module, extra)
    cfg = load_experiment_config(config, base_model=str(base_model) if base_model else None, gpu=gpu)
    home = check_home((home or Path(tempfile.mkdtemp(prefix="bashgym-experiment-"))).expanduser().resolve())
    if (home / "bashgym.db").exists() and not (home / "experiment").exists():
        from bashgym.errors import BashgymError

        raise BashgymError(f"{home} holds a bashgym store that is not an experiment's; pick another --home")
    with _progress_runner(as_json) as on_stage:
        exp = Experiment(home, cfg, on_stage=on_stage)
        exp.run()
    summary = exp.summary()
    if as_json:
        print_json(_json_result(summary, {"home": str(home), "results": str(exp.out / "experiment.json")}))
        return
    _headline(summary["eval"])
    console.print(f"[bold]results: {exp.out / 'experiment.json'}[/bold]")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("experiment")(experiment)
