"""`--ray-address` against a real Ray cluster of two nodes (two raylets, one CPU each, on this machine), joined
by a separate `bashgym` process as a user would: the build it runs there writes what the local engine writes."""

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


def test_a_build_sent_to_a_two_node_cluster_writes_the_local_build(two_node_cluster: str, store: Store) -> None:
    save_many(store)
    common = ["dataset", "build", "--tier", "all", "--json"]
    local = CliRunner().invoke(app, [*common, "--name", "local"], catch_exceptions=False)
    assert local.exit_code == 0, local.output
    out = subprocess.run([sys.executable, "-m", "bashgym.cli", *common, "--name", "cluster", "--engine", "ray",
                          "--ray-address", two_node_cluster, "--workers", "2"],
                         capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    on_cluster, here = json.loads(out.stdout), json.loads(local.output)
    # both nodes joined: the job saw the cluster's two CPUs, one per node, and ran 2 tasks at once on them
    assert on_cluster["engine"] == {"engine": "ray", "workers": 2, "address": two_node_cluster, "cpus": 2}
    assert on_cluster["content_hash"] == here["content_hash"]
    assert on_cluster["counts"]["steps"] == here["counts"]["steps"]
    assert on_cluster["counts"]["redaction"] == here["counts"]["redaction"]
