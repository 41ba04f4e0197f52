"""bashgym.scale: joining Ray (the one way in for every `--engine ray`), with a real local Ray."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.errors import BashgymError, ConfigError
from bashgym.scale.cluster import check_engine, check_ray_address, connect_ray
from bashgym.scale.executor import map_shards
from bashgym.schema import Session
from bashgym.store import Store
from factory_sessions import save_many
from judge_cases import calibration_cases

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_connect_ray_reuses_the_running_ray_and_turns_its_logs_down(ray_session: dict) -> None:
    import ray
    import ray.data

    assert ray_session == {"address": "local", "cpus": 2, "started": False}
    assert connect_ray() == ray_session  # a second call joins nothing new
    assert ray.get(ray.remote(lambda: 6 * 7).remote()) == 42
    assert logging.getLogger("ray.data").getEffectiveLevel() == logging.ERROR
    assert ray.data.DataContext.get_current().enable_progress_bars is False


def test_ray_shards_come_back_in_order_and_leave_the_callers_data_context_alone(ray_session: dict) -> None:
    import ray.data

    from bashgym.scale.executor import map_shards

    def _slow_first(shard: int) -> tuple[int, int]:  # nested: Ray's workers get it by value
        import os
        import time

        time.sleep(0.4 if shard == 0 else 0.0)  # the first shard finishes last
        return shard, os.getpid()

    from ray.data._internal.execution import metadata_fetcher, streaming_executor_state

    def loop_settings() -> tuple[float, bool]:
        return streaming_executor_state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S, metadata_fetcher._PREFETCH_ON_THREAD

    ctx = ray.data.DataContext.get_current()
    before = (ctx.execution_options.preserve_order, ctx.op_resource_reservation_enabled,
              ctx.downstream_capacity_backpressure_ratio)
    loop_before = loop_settings()
    results = map_shards(_slow_first, list(range(6)), engine="ray", workers=2)
    first = next(results)
    assert loop_settings() == (0.03, False)  # while the job runs, its loop answers a finished task at once
    results = [first, *results]
    assert [shard for shard, _ in results] == list(range(6))
    assert len({pid for _, pid in results}) >= 2  # the second task did not wait for the first worker
    # the job ran with its own settings (in order; no per-operator CPU reservation, no downstream-capacity
    # backpressure), the caller's are kept, and Ray Data's loop is as it was
    assert (ctx.execution_options.preserve_order, ctx.op_resource_reservation_enabled,
            ctx.downstream_capacity_backpressure_ratio) == before == (False, True, 2.0)
    assert loop_settings() == loop_before == (0.1, True)


def _fails_on_three(shard: int) -> int:
    if shard == 3:
        raise BashgymError(f"shard {shard}: the store cannot be read on this node")
    return shard


def _unpicklable_failure(shard: int) -> int:
    exc = ValueError(f"shard {shard} went wrong")
    exc.callback = lambda: None  # a lambda: the exception cannot be pickled back to the caller
    raise exc


@pytest.fixture()
def by_value(ray_session: dict) -> None:
    """This module's functions travel to Ray's workers by value (they cannot import a test module)."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.parametrize("engine", ["ray", "local"])
def test_a_shard_that_raises_raises_its_own_error_in_the_caller_in_order(by_value: None, engine: str) -> None:
    """On Ray as in local worker processes: the shards before it are merged, then the shard's own exception
    (a BashgymError: the CLI's one `error:` line, not Ray's wrapper and traceback) is raised in the caller."""
    got = []
    with pytest.raises(BashgymError) as info:
        for result in map_shards(_fails_on_three, list(range(6)), engine=engine, workers=2):
            got.append(result)
    assert str(info.value) == "shard 3: the store cannot be read on this node" and got == [0, 1, 2]
    if engine == "ray":  # where it was raised travels with it, for a bug's traceback
        assert "in a Ray worker (pid" in info.value.__notes__[0] and "_fails_on_three" in info.value.__notes__[0]


def test_a_ray_shards_exception_that_cannot_be_pickled_still_says_what_it_was(by_value: None) -> None:
    with pytest.raises(RuntimeError) as info:
        list(map_shards(_unpicklable_failure, [0, 1], engine="ray", workers=2))
    assert str(info.value) == "ValueError: shard 0 went wrong" and "in a Ray worker (pid" in info.value.__notes__[0]


def _killed_on_one(shard: int) -> int:
    if shard == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies: Ray's failure, not the shard's
    return shard


@pytest.mark.parametrize(("engine", "says"), [
    ("ray", r"^the Ray job failed: WorkerCrashedError: .*Ray's logs: /tmp/ray/session_latest/logs"),
    ("local", r"^a worker process died before its shard was done \(killed, or out of memory\?\)")],
    ids=["ray", "local"])
def test_a_worker_that_dies_is_one_clear_error(by_value: None, engine: str, says: str) -> None:
    """Not a hang (Ray Data retried such a task without end) and not a traceback: one line, for the CLI."""
    with pytest.raises(BashgymError, match=says):
        list(map_shards(_killed_on_one, [0, 1, 2], engine=engine, workers=2))


@pytest.mark.parametrize("address", ["auto", "ray://head.example:10001", "10.0.0.5:6379"])
def test_ray_addresses_a_cluster_answers_on_are_accepted(address: str) -> None:
    assert check_ray_address(address) == address
    assert check_ray_address(None) is None


def test_bad_engine_and_ray_address_name_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"--ray-address: got 'http://head:8265/'"):
        check_ray_address("http://head:8265/")
    with pytest.raises(ConfigError, match="--ray-address needs --engine ray"):
        check_ray_address("auto", engine="local")
    with pytest.raises(ConfigError, match=r"--engine: got 'rya'.*did you mean \"ray\""):
        check_engine("rya")


def _files(path: Path) -> dict[str, bytes]:
    """Every file a build wrote but its card (which names the dataset), by path under the dataset."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and p.name != "README.md" and "hf" not in p.parts}


def test_dataset_build_on_ray_writes_the_local_build_byte_for_byte(ray_session: dict, store: Store) -> None:
    """Secrets and personal data in every session, sixteen near-copies for dedup to drop (global: the copies
    land in other shards than their originals), decontamination on: `--engine ray` (Ray Data, 2 tasks at once)
    writes the rows, stats, redaction report and lint of `--engine local`, and says where it ran."""
    save_many(store)
    common = ["dataset", "build", "--tier", "all", "--json"]
    local = json.loads(invoke(*common, "--name", "local"))
    on_ray = json.loads(invoke(*common, "--name", "ray", "--engine", "ray", "--workers", "2"))
    assert local["engine"] == {"engine": "local", "workers": 1}
    assert on_ray["engine"] == {"engine": "ray", "workers": 2, "address": "local", "cpus": 2}
    assert on_ray["content_hash"] == local["content_hash"]
    assert on_ray["counts"]["steps"] == local["counts"]["steps"]
    dedup = next(s for s in on_ray["counts"]["steps"] if s["name"] == "dedup")
    assert sum(dedup["dropped"].values()) >= 16 and dedup["kept"] >= 14
    assert on_ray["counts"]["redaction"]["total"] > 30
    written = _files(Path(on_ray["path"]))
    assert written == _files(Path(local["path"]))
    assert {"train.jsonl", "train.parquet", "stats.json", "redaction.json", "lint.json"} <= set(written)
    assert b"ghp_" not in written["train.jsonl"] and b"_#" not in written["train.jsonl"]
    human = invoke("dataset", "build", "--tier", "all", "--name", "ray2", "--engine", "ray")
    assert "engine: ray (local, 2 CPUs), 2 workers" in human


def test_judge_on_ray_stores_the_local_scores(ray_session: dict, store: Store) -> None:
    """Twelve calibration sessions, good and bad: `judge --engine ray` scores them on Ray Data (2 tasks at
    once, chunks of 2 sessions) and stores, turn for turn, what the local judge stored."""
    with store.transaction():
        for case in calibration_cases()[:12]:
            store.save_session(Session.from_dict(case["session"]))

    def stored() -> list[tuple]:
        return [(r["session_id"], r["turn_idx"], r["total"], r["tier"], json.dumps(r["metrics"], sort_keys=True))
                for sid in store.all_session_ids() for r in store.scores(sid, "heuristic")]

    local = json.loads(invoke("judge", "--json"))
    first = stored()
    on_ray = json.loads(invoke("judge", "--rescore", "--engine", "ray", "--workers", "2", "--json"))
    assert on_ray.pop("engine") == {"engine": "ray", "workers": 2, "address": "local", "cpus": 2}
    assert on_ray == {k: v for k, v in local.items() if k != "engine"} and on_ray["sessions"] == 12
    assert stored() == first and len({t for *_, t, _ in first}) >= 2
