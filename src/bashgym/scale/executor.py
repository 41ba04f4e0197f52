"""Run one function over shards and get the results back in shard order: in this process, in local worker
processes (`--workers N`), or as a Ray Data job (`--engine ray`, on a local Ray or a cluster).

The stages (factory build, judge) write their work as a function of one shard (a list of session ids) that
returns plain, picklable results, plus an in-order merge in this process; this module is the only place
that knows how shards get to workers. At most a few results per worker wait to be merged, so the caller's
memory stays bounded however big the store.
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NoReturn, TypeVar

from bashgym.errors import BashgymError
from bashgym.scale.cluster import check_engine, check_ray_address, connect_ray

S = TypeVar("S")
R = TypeVar("R")

IN_FLIGHT_PER_WORKER = 4  # results computed ahead of the merge, per worker
# A Ray task whose worker process or node died is run again this many times, then the job fails (Ray Data's
# own default retries it without end: a shard that kills its worker every time, out of memory say, hung the
# build). Passed as a Ray remote argument, which Ray 2.60 (pinned) marks deprecated, to go in 2.64, with no
# named parameter for it yet: an upgrade must find its new place.
TASK_RETRIES = 3


def map_shards(fn: Callable[[S], R], shards: Sequence[S], *, engine: str = "local", workers: int = 1,
               ray_address: str | None = None, on_engine: Callable[[dict[str, Any]], None] | None = None,
               ) -> Iterator[R]:
    """`fn(shard)` for every shard, yielded in shard order.

    `engine="local"`: in this process when `workers` <= 1, else in that many worker processes (`fn` must be
    picklable: a module-level function, or a `functools.partial` of one). `engine="ray"`: one Ray Data task
    per shard; `workers` caps how many run at once (0 or less: as many as the cluster has CPUs).
    `on_engine` is told where the work runs ({"engine", "workers", "address", "cpus"}) before it starts.
    """
    check_engine(engine)
    check_ray_address(ray_address, engine)
    if engine == "ray":
        return _on_ray(fn, shards, workers, ray_address, on_engine)
    if on_engine:
        on_engine({"engine": "local", "workers": max(1, workers)})
    if workers <= 1 or len(shards) < 2:
        return (fn(s) for s in shards)
    return _in_processes(fn, shards, workers)


def _in_processes(fn: Callable[[S], R], shards: Sequence[S], workers: int) -> Iterator[R]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future] = deque()
        todo = iter(shards)
        try:
            for shard in todo:
                pending.append(pool.submit(fn, shard))
                if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    break
            while pending:
                try:
                    result = pending.popleft().result()
                except BrokenProcessPool as exc:
                    raise BashgymError(f"a worker process died before its shard was done (killed, or out of "
                                       f"memory?): {exc}") from exc
                for shard in todo:  # keep the pool fed: one submitted for each result taken
                    pending.append(pool.submit(fn, shard))
                    break
                yield result
        finally:
            for f in pending:
                f.cancel()


def _on_ray(fn: Callable[[S], R], shards: Sequence[S], workers: int, address: str | None,
            on_engine: Callable[[dict[str, Any]], None] | None) -> Iterator[R]:
    info = connect_ray(address)
    import ray.data

    concurrency = workers if workers > 0 else None
    if on_engine:
        on_engine({"engine": "ray", "workers": concurrency or info["cpus"], "address": info["address"],
                   "cpus": info["cpus"]})
    if not shards:
        return iter(())

    def run(row: dict[str, Any]) -> dict[str, Any]:
        try:
            result: Any = fn(pickle.loads(row["shard"]))
        except Exception as exc:  # noqa: BLE001 - raised again in the caller, as a local worker's would be
            result = ShardFailed.of(exc)
        return {"result": pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)}

    # A dataset keeps a copy of the context it was made under: set ours for this job, then restore the
    # caller's. Results come back in shard order, as the merge needs. Ray Data's per-operator resource
    # reservation is off: it held this job's one real operator to a share of the CPUs, so on 2 CPUs the
    # second task waited for the first (measured: 4 tasks of 2 CPU-seconds on 2 workers took 5.6 s with it,
    # 4.4 s without; the tasks now start together). Its downstream-capacity backpressure is off too: it
    # measures the merge (this process) as the consumer and, while the merge worked on one shard, held back
    # the next task with no task running (seen 23 times in one 12 MB build); the object-store budget
    # (ResourceBudget) still bounds what waits to be merged.
    ctx = ray.data.DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.op_resource_reservation_enabled,
             ctx.downstream_capacity_backpressure_ratio)
    ctx.execution_options.preserve_order, ctx.op_resource_reservation_enabled = True, False
    ctx.downstream_capacity_backpressure_ratio = None
    try:
        ds = ray.data.from_items([{"shard": pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)} for s in shards],
                                 override_num_blocks=len(shards))
        ds = ds.map(run, compute=ray.data.TaskPoolStrategy(size=concurrency), num_cpus=1,
                    max_retries=TASK_RETRIES)
    finally:
        (ctx.execution_options.preserve_order, ctx.op_resource_reservation_enabled,
         ctx.downstream_capacity_backpressure_ratio) = saved
    return _results(ds)


# Ray Data's scheduling loop, as pinned (ray 2.60.0): it learns that a task finished from a `ray.wait` on
# every running task that returns only when all are done or after this many seconds, and (by default) fetches
# a finished task's metadata on a second thread that the loop polls as often; only then is the next task sent.
# A shard task's worker sat idle 0.1-0.3 s after each task: 0.7-1.0 s of 2 workers' time in a 12 MB build
# (ray.timeline()), against 0.2-0.3 s with a 10 ms wait and the metadata read in the loop (3 builds each).
# 30 ms, not 10: the loop then costs the driver a fifth less CPU (median 0.93 s against 1.18 s in a 2-worker
# 12 MB build), and the ratio of 2 workers to 1 was no worse (median 1.59x against 1.55x, 5 rounds each).
_RAY_DATA_LATENCY = (
    ("ray.data._internal.execution.streaming_executor_state", "WAIT_FOR_TASK_COMPLETION_TIMEOUT_S", 0.03),
    ("ray.data._internal.execution.metadata_fetcher", "_PREFETCH_ON_THREAD", False),
)


def _results(ds: Any) -> Iterator[Any]:
    """The job's results in shard order, unpickled, with Ray Data's loop answering finished tasks at once
    (`_RAY_DATA_LATENCY`) while this job runs; the previous values are put back when it ends. A shard that
    raised raises here, in order, as it would have in a local worker."""
    import importlib

    from ray.exceptions import RayError

    saved = []
    for module_name, name, value in _RAY_DATA_LATENCY:
        module = importlib.import_module(module_name)
        saved.append((module, name, getattr(module, name)))
        setattr(module, name, value)
    try:
        for row in ds.iter_rows():
            result = pickle.loads(row["result"])
            if isinstance(result, ShardFailed):
                result.throw()
            yield result
    except RayError as exc:  # Ray's own failure (a worker or node died), not the shard's: one clear line
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise BashgymError(f"the Ray job failed: {type(exc).__name__}: {first[:300]} (Ray's logs: "
                           "/tmp/ray/session_latest/logs on each node)") from exc
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


class ShardFailed:
    """What a Ray task sends back for a shard that raised: the exception itself when it pickles (a store's
    error, a BashgymError: the caller turns those into one line, as for a local worker), else a RuntimeError
    naming its type and message; with the worker's traceback, added as a note when raised in the caller."""

    def __init__(self, exc: BaseException, where: str) -> None:
        self.exc, self.where = exc, where

    @classmethod
    def of(cls, exc: BaseException) -> ShardFailed:
        where = f"in a Ray worker (pid {os.getpid()}):\n" + "".join(traceback.format_exception(exc)).rstrip()
        try:
            pickle.loads(pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:  # noqa: BLE001 - an exception that cannot cross processes: say what it was
            return cls(RuntimeError(f"{type(exc).__name__}: {exc}"), where)
        return cls(exc, where)

    def throw(self) -> NoReturn:
        self.exc.add_note(self.where)
        raise self.exc


def map_as_completed_on_ray(fn: Callable[[S], R], items: Sequence[S], *, workers: int, ray_address: str | None = None,
                            on_engine: Callable[[dict[str, Any]], None] | None = None,
                            ) -> Iterator[tuple[S, R | None, str | None]]:
    """`fn(item)` as one Ray task per item, yielded as each finishes: (item, result, None), or (item, None,
    why) when the task itself failed (its worker or node died). At most `workers` run at once (0: as many as
    the cluster has CPUs; each task asks for one). For long, uneven items whose results are kept as they
    come (eval's episodes: one stored per finished task); `map_shards` is for results merged in order.

    `fn` travels to the workers once (`ray.put`); closing the iterator early (Ctrl-C) cancels the tasks
    still running."""
    info = connect_ray(ray_address)
    import ray
    from ray.exceptions import RayError

    at_once = workers if workers > 0 else max(1, info["cpus"])
    if on_engine:
        on_engine({"engine": "ray", "workers": at_once, "address": info["address"], "cpus": info["cpus"]})
    remote = ray.remote(num_cpus=1, max_retries=0)(_call)
    shipped = ray.put(fn)
    todo = iter(items)
    pending: dict[Any, S] = {}

    def submit() -> None:
        for item in todo:
            pending[remote.remote(shipped, item)] = item
            return

    for _ in range(at_once):
        submit()
    try:
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(ref)
            submit()
            try:
                result, error = ray.get(ref), None
            except RayError as exc:
                result, error = None, f"Ray task failed: {type(exc).__name__}: {str(exc)[:300]}"
            yield item, result, error
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def _call(fn: Callable[[S], R], item: S) -> R:
    return fn(item)
