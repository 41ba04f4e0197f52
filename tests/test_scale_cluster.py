"""`--ray-address` against a real Ray cluster of two nodes (two raylets, one CPU each, on this machine), joined
by a separate `bashgym` process as a user would: the build and the judge it runs there write what the local
engine writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.store import Store
from factory_sessions import save_many


@pytest.fixture()
def two_node_cluster(isolated_home: Path) -> Iterator[str]:
    """A head node and a second node, one CPU each (Ray's own `cluster_utils`: real GCS and raylet processes,
    nothing connected from this process); its GCS address, then both nodes stopped."""
    pytest.importorskip("ray", reason="needs the [scale] extra (ray[data])")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False},
                      shutdown_at_exit=False)
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()


def cli(*args: str) -> dict:
    """A `bashgym ... --json` command in a process of its own (as on a node of the cluster): its JSON."""
    out = subprocess.run([sys.executable, "-m", "bashgym.cli", *args, "--json"], capture_output=True, text=True,
                         env=os.environ.copy(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def here(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_build_and_a_judge_sent_to_a_two_node_cluster_match_the_local_engine(two_node_cluster: str,
                                                                               store: Store) -> None:
    save_many(store)
    on_cluster = ["--engine", "ray", "--ray-address", two_node_cluster, "--workers", "2"]
    # both nodes joined: the job saw the cluster's two CPUs (one per node) and ran 2 tasks at once on them
    ran = {"engine": "ray", "workers": 2, "address": two_node_cluster, "cpus": 2}

    built_here = here("dataset", "build", "--tier", "all", "--name", "local")
    built_there = cli("dataset", "build", "--tier", "all", "--name", "cluster", *on_cluster)
    assert built_there["engine"] == ran
    assert built_there["content_hash"] == built_here["content_hash"]
    assert built_there["counts"]["steps"] == built_here["counts"]["steps"]
    assert built_there["counts"]["redaction"] == built_here["counts"]["redaction"]

    def stored() -> list[tuple]:
        return [(r["session_id"], r["turn_idx"], r["total"], r["tier"], json.dumps(r["metrics"], sort_keys=True))
                for sid in store.all_session_ids() for r in store.scores(sid, "heuristic")]

    # the cluster judges first, so scores it failed to write would be missing, not left over from a local run
    judged_there = cli("judge", "--rescore", *on_cluster)
    by_cluster = stored()
    judged_here = here("judge", "--rescore")
    assert judged_there.pop("engine") == ran
    assert judged_there == {k: v for k, v in judged_here.items() if k != "engine"} and judged_there["sessions"] == 30
    assert by_cluster == stored() and len({sid for sid, *_ in by_cluster}) == 30
