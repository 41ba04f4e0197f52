"""Run an agent over tasks × k samples with N parallel workers; store every rollout; compute pass@k.

Each (task, sample) is one episode in a fresh env. Its outcome lands in two places in one transaction:
a `rollouts` row (passed | failed | error) and a Session (source="gym"), so the judge and the factory
see rollouts like any captured session. An infrastructure failure (endpoint down, sandbox crash) is
retried, then recorded as status "error": no score, left out of pass@k, and rerun by `--resume`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bashgym.eval.agent import Episode, run_episode
from bashgym.eval.clients import ChatClient
from bashgym.eval.metrics import cost_usd, summarize
from bashgym.gym.protocol import make_env as default_env_factory
from bashgym.store import Store

EnvFactory = Callable[[Any], Any]


@dataclass(slots=True)
class Sample:
    task: Any  # bashgym.gym.task.Task: .id, .category, .instruction, .path
    index: int


def new_eval_id(model: str, adapter: str | None = None) -> str:
    """`ev-20261125-143000-<model>[-<adapter>]-<4 hex>`: sortable, readable, unique."""
    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9.]+", "-", text.rstrip("/").split("/")[-1]).strip("-")[:32] or "model"

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = slug(model) + (f"-{slug(adapter)}" if adapter else "")
    return f"ev-{stamp}-{name}-{secrets.token_hex(2)}"


def rollout_session_id(eval_id: str, task_id: str, sample_idx: int) -> str:
    """Stable per (eval, task, sample): a rerun replaces the session instead of adding one."""
    return f"gym-{eval_id}-{task_id}-{sample_idx}"


def pending_samples(store: Store, eval_id: str, tasks: Iterable[Any], k: int) -> list[Sample]:
    """The (task, sample) pairs with no rollout yet or whose rollout errored: what a resume reruns."""
    done = {(r["task_id"], r["sample_idx"]) for r in store.rollouts(eval_id) if r["status"] != "error"}
    return [Sample(t, i) for t in tasks for i in range(k) if (t.id, i) not in done]


def run_samples(
    store: Store, client: ChatClient, samples: list[Sample], *, eval_id: str, model: str,
    workers: int = 4, make_env: EnvFactory = default_env_factory, max_turns: int = 30, retries: int = 1,
    seed: int = 0, on_done: Callable[[Sample, Episode], None] | None = None, engine: str = "local",
    ray_address: str | None = None, on_engine: Callable[[dict[str, Any]], None] | None = None,
) -> list[Episode]:
    """Run samples `workers` at a time, each in its own env and sandbox: on threads here (`engine="local"`)
    or as Ray tasks (`"ray"`: a local Ray, or the cluster at `ray_address`; with an OpenAI-compatible client,
    each worker opening its own connection). This process stores each finished episode at once, whichever
    engine ran it (an interrupt loses little, `--resume` runs the rest)."""
    attempt = functools.partial(run_sample, client=client, make_env=make_env, max_turns=max_turns,
                                retries=retries, seed=seed)
    if engine == "ray":
        finished = _run_on_ray(attempt, samples, workers=workers, ray_address=ray_address, on_engine=on_engine)
    else:
        if on_engine is not None:
            on_engine({"engine": "local", "workers": max(1, workers)})
        finished = _run_on_threads(attempt, samples, workers=workers)
    episodes: list[Episode] = []
    with contextlib.closing(finished):
        for sample, episode in finished:
            _store_episode(store, episode, eval_id=eval_id, model=model, sample_idx=sample.index)
            episodes.append(episode)
            if on_done is not None:
                on_done(sample, episode)
    return episodes


def run_sample(sample: Sample, *, client: ChatClient, make_env: EnvFactory, max_turns: int, retries: int,
               seed: int) -> Episode:
    """One (task, sample) episode, rerun up to `retries` times while the infrastructure fails; says where it
    ran (host:pid), so a rollout on a cluster can be traced to its node."""
    for _attempt in range(retries + 1):
        episode = _episode(client, sample, make_env, max_turns=max_turns, seed=seed + sample.index)
        if episode.status != "error":
            break
    episode.worker = f"{socket.gethostname()}:{os.getpid()}"
    return episode


def _run_on_ray(attempt: Callable[[Sample], Episode], samples: list[Sample], *, workers: int,
                ray_address: str | None, on_engine: Callable[[dict[str, Any]], None] | None,
                ) -> Iterator[tuple[Sample, Episode]]:
    """The Ray engine (scale/executor.py): one Ray task per sample. A task whose worker died gives an episode
    with no score, which `--resume` reruns like any infrastructure failure."""
    from bashgym.scale.executor import map_as_completed_on_ray

    finished = map_as_completed_on_ray(attempt, samples, workers=workers, ray_address=ray_address,
                                       on_engine=on_engine)
    with contextlib.closing(finished):
        for sample, episode, error in finished:
            if episode is None:
                task = sample.task
                episode = Episode(task_id=task.id, category=task.category, instruction=task.instruction,
                                  ended_by="infra", error=error)
            yield sample, episode


def _run_on_threads(attempt: Callable[[Sample], Episode], samples: list[Sample], *,
                    workers: int) -> Iterator[tuple[Sample, Episode]]:
    """The local engine: a thread pool; yields (sample, episode) as each finishes."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="eval")
    try:
        futures = {pool.submit(attempt, s): s for s in samples}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        # Ctrl-C (or the caller stopped): drop the samples not started; finished ones are stored.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _episode(client: ChatClient, sample: Sample, make_env: EnvFactory, *, max_turns: int, seed: int) -> Episode:
    task = sample.task
    try:
        env = make_env(task)
    except Exception as exc:  # the sandbox could not even start: no score
        episode = Episode(task_id=task.id, category=task.category, instruction=task.instruction)
        episode.error, episode.ended_by = f"env failed to start: {type(exc).__name__}: {exc}", "infra"
        return episode
    try:
        return run_episode(
            env, client, task_id=task.id, category=task.category, instruction=task.instruction, seed=seed,
            max_turns=max_turns,
        )
    finally:
        try:
            env.close()
        except Exception:  # noqa: BLE001 - a failing close must not hide the verdict
            pass


def _store_episode(store: Store, episode: Episode, *, eval_id: str, model: str, sample_idx: int) -> None:
    session_id = rollout_session_id(eval_id, episode.task_id, sample_idx)
    session = episode.to_session(session_id=session_id, eval_id=eval_id, model=model, sample_idx=sample_idx)
    with store.transaction():
        store.save_session(session)
        store.put_rollout(
            eval_id, episode.task_id, sample_idx, session_id=session_id, reward=episode.reward,
            status=episode.status, detail=episode.detail(),
        )


def eval_summary(
    store: Store, eval_id: str, k: int, *, price_in: float | None = None, price_out: float | None = None,
) -> dict[str, Any]:
    """pass@1 / pass@k overall, per category and per task from the stored rollouts, with tokens and cost."""
    rows = []
    for r in store.rollouts(eval_id):
        detail = r["detail"]
        rows.append({
            "task_id": r["task_id"], "status": r["status"], "category": detail.get("category"),
            "prompt_tokens": detail.get("prompt_tokens"), "completion_tokens": detail.get("completion_tokens"),
        })
    summary = summarize(rows, k)
    overall = summary["overall"]
    overall["cost_usd"] = cost_usd(overall["prompt_tokens"], overall["completion_tokens"], price_in, price_out)
    summary["eval_id"] = eval_id
    return summary


def run_eval(
    store: Store, client: ChatClient, tasks: list[Any], *, eval_id: str, model: str, suite: str, k: int,
    adapter_run_id: str | None = None, workers: int = 4, make_env: EnvFactory = default_env_factory,
    max_turns: int = 30, retries: int = 1, seed: int = 0, config: dict[str, Any] | None = None,
    price_in: float | None = None, price_out: float | None = None,
    on_start: Callable[[int], None] | None = None, on_done: Callable[[Sample, Episode], None] | None = None,
    engine: str = "local", ray_address: str | None = None,
    on_engine: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Create (or continue) eval `eval_id`, run its pending samples, store metrics; returns the summary."""
    with store.transaction():
        store.create_eval(
            eval_id, model=model, adapter_run_id=adapter_run_id, suite=suite, k=k,
            config={"workers": workers, "max_turns": max_turns, "seed": seed, "tool_mode": client.tool_mode,
                    "engine": engine, "tasks": [t.id for t in tasks], **(config or {})},
        )
    samples = pending_samples(store, eval_id, tasks, k)
    if on_start is not None:
        on_start(len(samples))
    run_samples(
        store, client, samples, eval_id=eval_id, model=model, workers=workers, make_env=make_env,
        max_turns=max_turns, retries=retries, seed=seed, on_done=on_done, engine=engine, ray_address=ray_address,
        on_engine=on_engine,
    )
    summary = eval_summary(store, eval_id, k, price_in=price_in, price_out=price_out)
    summary["ran"] = len(samples)
    # Headline numbers at the top level (eval list) and grouped as overall/categories (the UI reads both).
    metrics = {**summary["overall"], "overall": summary["overall"], "categories": summary["categories"]}
    with store.transaction():
        store.set_eval_metrics(eval_id, metrics)
    return summary
