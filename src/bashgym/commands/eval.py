"""`bashgym eval`: run a model against gym tasks (pass@1 / pass@k), list, show and compare evals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bashgym.commands.common import (
    HOME_OPTION,
    JSON_OPTION,
    RAY_ADDRESS_OPTION,
    console,
    engine_line,
    err_console,
    open_store,
    print_json,
    progress,
)
from bashgym.errors import ConfigError
from bashgym.quiet import quiet_libraries


def register(app: typer.Typer) -> None:
    # No help= here: `bashgym eval --help` shows eval_run's docstring, examples included.
    sub = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    sub.callback(invoke_without_command=True)(eval_run)
    sub.command("list")(eval_list)
    sub.command("show")(eval_show)
    sub.command("compare")(eval_compare)
    app.add_typer(sub, name="eval")


def eval_run(
    ctx: typer.Context,
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (vLLM, llama.cpp, Ollama, OpenAI)."),
    model: str = typer.Option(None, "--model", help="Model name at the endpoint, or a local model directory."),
    adapter: str = typer.Option(
        None, "--adapter",
        help="LoRA adapter: a train run id or adapter directory (local model), or the served adapter's model "
        "name (with --base-url).",
    ),
    tasks: str = typer.Option("builtin", "--tasks", help="Task suite: 'builtin' or a directory of tasks."),
    k: int = typer.Option(5, "-k", "--k", min=1, help="Samples per task (pass@k)."),
    workers: int = typer.Option(
        None, "--workers", "-w", min=1, help="Episodes run in parallel (default 4; with --engine ray, the cluster's CPUs).",
        show_default=False),
    engine: str = typer.Option(
        "local", "--engine", help="local (threads of this process) or ray (one Ray task per episode, each with its own "
        "sandbox, on a local Ray or the cluster at --ray-address; needs --base-url and bashgym[scale], docs/scale.md)."),
    ray_address: str = RAY_ADDRESS_OPTION,
    compare: bool = typer.Option(False, "--compare", help="Evaluate base and --adapter side by side, with a bar chart PNG."),
    resume: bool = typer.Option(False, "--resume", help="Continue the newest matching eval: rerun only missing or errored rollouts."),
    task_ids: list[str] = typer.Option(None, "--task", help="Only these task ids (repeatable)."),
    limit: int = typer.Option(None, "--limit", help="Only the first N tasks of the suite."),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature (k > 1 needs > 0)."),
    max_tokens: int = typer.Option(1024, "--max-tokens", help="Most tokens per model reply."),
    max_turns: int = typer.Option(30, "--max-turns", help="Most model calls per episode."),
    tool_mode: str = typer.Option("auto", "--tool-mode", help="auto | native | fenced (```bash blocks instead of tools)."),
    api_key: str = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", help="Bearer key for the endpoint.", show_default=False),
    price_in: float = typer.Option(None, "--price-in", help="USD per 1M prompt tokens (for the cost column)."),
    price_out: float = typer.Option(None, "--price-out", help="USD per 1M completion tokens."),
    seed: int = typer.Option(0, "--seed", help="Base seed; sample i uses seed + i."),
    png: Path = typer.Option(None, "--png", help="Where --compare writes its bar chart (default under the bashgym home)."),
    home: Path = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate a model in the bash gym: pass@1 / pass@k per category, rollouts stored as sessions.

    Runs an agent (an OpenAI-compatible endpoint, or a local model + LoRA adapter) against gym tasks in
    parallel. Bare `bashgym eval` lists evals.

    Example:
      bashgym eval --base-url http://127.0.0.1:8000/v1 --model qwen2.5-7b --tasks builtin -k 5 --workers 4
      bashgym eval --model ./models/base --adapter run-sft-3 --compare -k 3
      bashgym eval --base-url http://127.0.0.1:8000/v1 --model qwen2.5-7b -k 5 --resume
      bashgym eval --base-url http://vllm-head:8000/v1 --model qwen2.5-7b -k 5 --engine ray --ray-address auto
    """
    if ctx.invoked_subcommand is not None:
        return
    if model is None and adapter and not base_url:
        model = _run_base_model(adapter, home)
    if model is None:
        if base_url or adapter or compare or resume:
            raise typer.BadParameter("--model is required (a model name with --base-url, or a local model directory)")
        eval_list(limit=20, home=home, as_json=as_json)
        return
    if compare and not adapter:
        raise typer.BadParameter("--compare needs --adapter (base vs adapter)")
    from bashgym.scale.cluster import check_engine, check_ray_address

    check_ray_address(ray_address, check_engine(engine))
    if engine == "ray" and not base_url:
        raise ConfigError("--engine ray sends every episode to an OpenAI-compatible server: pass --base-url (serve "
                          "the model with vLLM, `vllm serve MODEL --enable-lora ...`; docs/scale.md)")

    from bashgym.eval.clients import LocalModelClient, OpenAIClient, check_tool_mode, resolve_adapter
    from bashgym.eval.runner import new_eval_id, run_eval

    check_tool_mode(tool_mode)
    store = open_store(home)
    suite = _load_tasks(tasks, task_ids, limit)
    workers = workers or (0 if engine == "ray" else 4)  # ray: 0 = one episode per CPU of the cluster

    variants: list[tuple[str, str | None]] = [("base", None), ("adapter", adapter)] if compare else [
        ("adapter" if adapter else "base", adapter)
    ]
    summaries: list[dict[str, Any]] = []
    for label, variant_adapter in variants:
        adapter_ref: str | None = None
        if base_url:
            model_name = variant_adapter or model
            adapter_ref = variant_adapter
            client: Any = OpenAIClient(
                base_url, model_name, api_key=api_key, tool_mode=tool_mode, temperature=temperature,
                max_tokens=max_tokens,
            )
            display = model
        else:
            adapter_path = None
            if variant_adapter:
                adapter_path, run_id = resolve_adapter(variant_adapter, store)
                adapter_ref = run_id or str(adapter_path)
            display = str(Path(model).expanduser().resolve())
            with err_console.status(f"loading {display}" + (f" + {adapter_ref}" if adapter_ref else "")), \
                    quiet_libraries():
                client = LocalModelClient(
                    display, adapter=adapter_path, tool_mode=tool_mode, temperature=temperature,
                    max_new_tokens=max_tokens,
                )
        previous = store.latest_eval(model=display, adapter_run_id=adapter_ref, suite=tasks, k=k) if resume else None
        eval_id = previous["id"] if previous else new_eval_id(display, adapter_ref)
        if resume and previous is None:
            err_console.print(f"no earlier eval of {display} on {tasks!r} with k={k} to resume; starting {eval_id}")
        ran: dict[str, Any] = {}
        with progress() as bar:
            job = bar.add_task(f"{label} {eval_id}", total=None)

            def say_engine(info: dict[str, Any], bar: Any = bar, ran: dict[str, Any] = ran) -> None:
                ran.update(info)
                bar.console.print(engine_line(info) + (f" against {base_url}" if base_url else ""))

            summary = run_eval(
                store, client, suite, eval_id=eval_id, model=display, suite=tasks, k=k,
                adapter_run_id=adapter_ref, workers=workers, max_turns=max_turns, seed=seed,
                config={"base_url": base_url, "temperature": temperature, "max_tokens": max_tokens,
                        "label": label, **({"ray_address": ray_address} if ray_address else {})},
                price_in=price_in, price_out=price_out, engine=engine, ray_address=ray_address,
                on_engine=say_engine,
                on_start=lambda n, job=job: bar.update(job, total=n),
                on_done=lambda _s, _e, job=job: bar.advance(job),
            )
        client.close()
        errors = [r["detail"].get("error") for r in store.rollouts(eval_id) if r["status"] == "error"]
        summary["first_error"] = next((e for e in errors if e), None)  # why there was no score (endpoint down...)
        summary["label"] = label
        summary["model"] = display
        summary["adapter"] = adapter_ref
        summary["engine"] = ran
        summaries.append(summary)

    chart = None
    if compare:
        from bashgym.eval.report import compare_chart
        from bashgym.paths import home_dir

        chart = png or home_dir() / "evals" / f"{summaries[1]['eval_id']}-vs-base.png"
        compare_chart(summaries[0], summaries[1], chart, base_name="base", other_name=adapter)
    if as_json:
        print_json({"evals": summaries, "chart": str(chart) if chart else None})
        return
    _print_summaries(summaries, chart, adapter=adapter)


def _run_base_model(adapter: str, home: Path | None) -> str | None:
    """`--adapter RUN` without `--model`: the base model the run trained from."""
    from bashgym.errors import NotFoundError

    store = open_store(home)
    try:
        return store.get_run(adapter).get("base_model") or None
    except NotFoundError:
        return None


def _load_tasks(tasks: str, task_ids: list[str] | None, limit: int | None) -> list[Any]:
    from bashgym.errors import did_you_mean
    from bashgym.gym.task import load_suite

    suite = load_suite(tasks)
    if task_ids:
        by_id = {t.id: t for t in suite}
        for tid in task_ids:
            if tid not in by_id:
                raise ConfigError(f"no task {tid!r} in suite {tasks!r}{did_you_mean(tid, by_id)}")
        suite = [by_id[t] for t in task_ids]
    if limit is not None:
        suite = suite[:limit]
    if not suite:
        raise ConfigError(f"suite {tasks!r} has no tasks to run")
    return suite


def _print_summaries(summaries: list[dict[str, Any]], chart: Path | None, *, adapter: str | None) -> None:
    from bashgym.eval.report import compare_table, fmt_rate, summary_tables

    for s in summaries:
        for table in summary_tables(s, title=f"{s['label']}: {s['eval_id']}"):
            console.print(table)
        o = s["overall"]
        pk = o[f"pass@{s['k']}"]
        cost = f", cost ${o['cost_usd']:.4f}" if o.get("cost_usd") is not None else ""
        console.print(
            f"{s['eval_id']}: ran {s['ran']} rollouts; pass@1 {fmt_rate(o['pass@1'])}, "
            f"pass@{s['k']} {fmt_rate(pk)}; tokens {o['prompt_tokens']:,} in / "
            f"{o['completion_tokens']:,} out{cost}; rollouts stored as sessions (source gym)"
        )
        if o["errors"]:
            err_console.print(
                f"[yellow]{o['errors']} rollouts got no score (infrastructure failure); "
                "rerun with --resume to retry them[/]"
            )
            if s.get("first_error"):
                err_console.print(f"first error: {s['first_error']}", markup=False)
    if len(summaries) == 2:
        console.print(compare_table(summaries[0], summaries[1], base_name="base", other_name=adapter or "adapter"))
    if chart:
        console.print(f"chart: {chart}")


def eval_list(
    limit: int = typer.Option(20, "--limit", help="Most evals to list."),
    home: Path = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List evals, newest first.

    Example:
      bashgym eval list --limit 5
    """
    from rich.table import Table

    from bashgym.eval.report import fmt_rate

    store = open_store(home)
    rows = store.list_evals(limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no evals yet: run `bashgym eval --base-url URL --model NAME` or `--model PATH`")
        return
    table = Table(title="evals")
    for col in ("id", "model", "adapter", "suite", "k", "pass@1", "pass@k", "no score", "created"):
        table.add_column(col)
    for r in rows:
        m = r["metrics"]
        table.add_row(
            r["id"], r["model"], r["adapter_run_id"] or "", r["suite"] or "", str(r["k"]),
            fmt_rate(m.get("pass@1")), fmt_rate(m.get(f"pass@{r['k']}")), str(m.get("errors", "")),
            (r["created_at"] or "")[:19],
        )
    console.print(table)


def eval_show(
    eval_id: str = typer.Argument(..., help="Eval id (or a unique prefix)."),
    home: Path = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one eval's pass@1 / pass@k per category and per task.

    Example:
      bashgym eval show ev-20261125
    """
    from bashgym.eval.report import summary_tables
    from bashgym.eval.runner import eval_summary

    store = open_store(home)
    row = store.get_eval(eval_id)
    summary = eval_summary(store, row["id"], row["k"])
    if as_json:
        print_json({**row, "summary": summary})
        return
    for table in summary_tables(summary, title=f"{row['id']} ({row['model']})"):
        console.print(table)


def eval_compare(
    base_id: str = typer.Argument(..., help="The base model's eval id."),
    other_id: str = typer.Argument(..., help="The adapter's (or other model's) eval id."),
    png: Path = typer.Option(None, "--png", help="Bar chart path (default under the bashgym home)."),
    home: Path = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Put two evals side by side (pass@1 / pass@k per category) and draw a bar chart PNG.

    Example:
      bashgym eval compare ev-20261125-base ev-20261125-lora --png compare.png
    """
    from bashgym.eval.report import compare_chart, compare_rows, compare_table
    from bashgym.eval.runner import eval_summary
    from bashgym.paths import home_dir

    store = open_store(home)
    base, other = store.get_eval(base_id), store.get_eval(other_id)
    if base["k"] != other["k"]:
        raise ConfigError(f"evals have different k ({base['k']} vs {other['k']}): pass@k would not compare")
    a, b = eval_summary(store, base["id"], base["k"]), eval_summary(store, other["id"], other["k"])
    chart = png or home_dir() / "evals" / f"{other['id']}-vs-{base['id']}.png"
    compare_chart(a, b, chart, base_name=base["id"], other_name=other["id"])
    if as_json:
        print_json({"base": base["id"], "other": other["id"], "rows": compare_rows(a, b), "chart": str(chart)})
        return
    console.print(compare_table(a, b, base_name=base["id"], other_name=other["id"]))
    console.print(f"chart: {chart}")
