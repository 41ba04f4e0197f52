"""Which engine runs the factory past one process: Ray Data or datatrove's executor, measured on the same work.

Both run the build's one pipeline pass (`factory.build.run_shard`) over the same shards of the same store
with 2 workers, and this process merges the shards in order (`Pipeline.merge`, global dedup) into the same
rows: Ray Data as `--engine ray` does (a streaming `map` over the shards, results back in order), datatrove
as its `LocalPipelineExecutor` does (one task per shard in a pool of 2; each task writes its shard's result
to a file, since datatrove's tasks hand nothing back, and this process reads them in order once all are
done). The in-process build (1 process, no engine) is the baseline. Prints seconds per engine, the ratios,
and checks all three give the same rows.

Needs datatrove, which bashgym does not depend on: `pip install --target /tmp/dtlib datatrove humanize loguru
--no-deps` and run with PYTHONPATH=/tmp/dtlib.

    python benchmarks/engine_choice.py --size-mb 6      # ~3 minutes on 2 busy cores
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from factory_throughput import generate, warm_imports  # noqa: E402

EVERY_TIER = ["gold", "silver", "bronze", "failed", "unscored"]


def _setup(home: Path):  # noqa: ANN202 - (store, spec, shards, merging pipeline factory)
    os.environ["BASHGYM_HOME"] = str(home)
    import secrets

    from bashgym.factory.apply_redaction import redactor_settings
    from bashgym.factory.build import BuildSpec, shard_ids
    from bashgym.factory.config import DatasetConfig
    from bashgym.store import Store

    cfg = DatasetConfig(name="e", decontaminate={"enabled": False}, select={"tiers": EVERY_TIER})
    store = Store.open()
    ids = list(store.iter_session_ids(parent=""))
    spec = BuildSpec(store.location, cfg.model_dump(), redactor_settings(token_key=secrets.token_bytes(16)))
    return store, spec, shard_ids(ids, 2)


def _digest(rows) -> str:  # noqa: ANN001
    import orjson

    from bashgym.factory.redact import Renumber

    renumber, h, n = Renumber(), hashlib.sha256(), 0
    for row in rows:
        h.update(orjson.dumps(renumber.obj(row), default=str))
        n += 1
    return f"{n} rows {h.hexdigest()[:12]}"


def in_process(spec, shards) -> str:  # noqa: ANN001
    from bashgym.factory.build import build_pipeline, run_shard

    memo: set[str] = set()
    return _digest(build_pipeline(spec).merge(run_shard(spec, s, memo) for s in shards))


def on_ray(spec, shards) -> str:  # noqa: ANN001
    from bashgym.factory.build import build_pipeline, run_shard
    from bashgym.scale.executor import map_shards

    return _digest(build_pipeline(spec).merge(map_shards(partial(run_shard, spec), shards, engine="ray",
                                                         workers=2)))


def _datatrove_task(data, rank: int = 0, world_size: int = 1, *, spec=None, shards=None, out=None):  # noqa: ANN001, ANN202
    from bashgym.factory.build import run_shard

    (Path(out) / f"{rank:06d}.pkl").write_bytes(pickle.dumps(run_shard(spec, shards[rank])))
    yield from ()


def on_datatrove(spec, shards, temp: Path) -> str:  # noqa: ANN001
    from datatrove.executor import LocalPipelineExecutor

    from bashgym.factory.build import build_pipeline

    out = temp / "dt-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    step = partial(_datatrove_task, spec=spec, shards=shards, out=str(out))
    saved = os.dup(2)  # datatrove's tasks log every step to stderr (and to logging_dir, kept)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            LocalPipelineExecutor(pipeline=[step], tasks=len(shards), workers=2,
                                  logging_dir=str(temp / "dt-logs"), skip_completed=False,
                                  start_method="fork").run()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    results = (pickle.loads((out / f"{i:06d}.pkl").read_bytes()) for i in range(len(shards)))
    return _digest(build_pipeline(spec).merge(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=6.0)
    args = ap.parse_args()
    try:
        import datatrove  # noqa: F401
    except ImportError:
        sys.exit("needs datatrove: pip install --target /tmp/dtlib datatrove humanize loguru --no-deps, then "
                 "PYTHONPATH=/tmp/dtlib python benchmarks/engine_choice.py")
    temp = Path(tempfile.mkdtemp(prefix="bashgym-engine-"))
    try:
        n, mb = generate(temp / "home", args.size_mb)
        print(f"store: {n} sessions, {mb:.1f} MB of trace text; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print(f"imports (once, not timed): {warm_imports():.1f}s")
        _store, spec, shards = _setup(temp / "home")
        timings: dict[str, float] = {}
        digests: dict[str, str] = {}

        def measure(name: str, fn) -> None:  # noqa: ANN001
            t = time.perf_counter()
            digests[name] = fn()
            timings[name] = time.perf_counter() - t
            print(f"{name:28} {timings[name]:7.2f}s  {mb / timings[name]:5.2f} MB/s  {digests[name]}")

        print(f"{len(shards)} shards")
        measure("in-process", lambda: in_process(spec, shards))
        # datatrove before Ray: its pool forks this process, which must not hold Ray's threads yet
        measure("datatrove local, 2 workers", lambda: on_datatrove(spec, shards, temp))
        from bashgym.scale.cluster import connect_ray

        t = time.perf_counter()
        connect_ray(num_cpus=2)
        on_ray(spec, shards[:2])  # warm Ray's workers (imports), as on a long-lived cluster
        print(f"local Ray started and warmed in {time.perf_counter() - t:.1f}s (not counted)")
        measure("ray data, 2 workers", lambda: on_ray(spec, shards))
        assert len(set(digests.values())) == 1, "the engines made different rows"
        base = timings["in-process"]
        print(f"ratio vs in-process: ray {base / timings['ray data, 2 workers']:.2f}x, "
              f"datatrove {base / timings['datatrove local, 2 workers']:.2f}x")
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
