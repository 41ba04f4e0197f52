"""`--ray-address` against a real Ray cluster of two nodes (two raylets, one CPU each, on this machine), joined
by a separate `bashgym` process as a user would: the build, the judge and an eval it runs there store what the
local engine stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bashgym.eval.clients import OpenAIClient
from bashgym.eval.runner import run_eval
from bashgym.gym.task import load_suite
from bashgym.store import Store
from factory_sessions import save_many
from harness.openai_server import ScriptedOpenAIServer
from test_eval_ray import outcomes
from test_eval_runner import known_policy, three_tasks
from test_scale import invoke


def user_env() -> dict[str, str]:
    """This test's environment as a user's shell has it: without what `ray.init` put in this process's
    (RAY_AUTH_MODE=token, after the test worker's shared Ray started: a head started with it looks for a token
    it never made, and its GCS dies). The cluster makes its token in the test's home, where the CLI finds it."""
    return {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "PYTHONBREAKPOINT")}


@pytest.fixture()
def two_node_cluster(isolated_home: Path) -> Iterator[str]:
    """A head node and a second node, one CPU each, started by harness/ray_cluster.py in a process of its own
    (with this test's home): its GCS address, then both nodes stopped."""
    pytest.importorskip("ray", reason="needs the [scale] extra (ray[data])")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / "harness" / "ray_cluster.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=user_env())
    try:
        address = proc.stdout.readline().strip()
        assert address, f"the cluster did not start (exit code {proc.poll()})"
        yield address
    finally:
        proc.stdin.close()  # the helper stops both nodes and leaves
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli(*args: str) -> dict:
    """A `bashgym ... --json` command in a process of its own (as on a node of the cluster): its JSON."""
    out = subprocess.run([sys.executable, "-m", "bashgym.cli", *args, "--json"], capture_output=True, text=True,
                         env=user_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_a_build_and_a_judge_sent_to_a_two_node_cluster_match_the_local_engine(two_node_cluster: str,
                                                                               store: Store) -> None:
    save_many(store)
    on_cluster = ["--engine", "ray", "--ray-address", two_node_cluster, "--workers", "2"]
    # both nodes joined: the job saw the cluster's two CPUs (one per node) and ran 2 tasks at once on them
    ran = {"engine": "ray", "workers": 2, "address": two_node_cluster, "cpus": 2}

    built_here = json.loads(invoke("dataset", "build", "--tier", "all", "--name", "local", "--json"))
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
    judged_here = json.loads(invoke("judge", "--rescore", "--json"))
    assert judged_there.pop("engine") == ran
    assert judged_there == {k: v for k, v in judged_here.items() if k != "engine"} and judged_there["sessions"] == 30
    assert by_cluster == stored() and len({sid for sid, *_ in by_cluster}) == 30


def test_an_eval_sent_to_a_two_node_cluster_stores_the_local_rollouts(two_node_cluster: str, store: Store,
                                                                      tmp_path: Path) -> None:
    """Episodes as Ray tasks on the cluster's nodes (a sandbox each, in Ray worker processes), against a
    scripted OpenAI-compatible server on 127.0.0.1: the rollouts and pass@k of the local engine."""
    suite = three_tasks(tmp_path)
    with ScriptedOpenAIServer(known_policy) as server:
        local = run_eval(store, OpenAIClient(server.url, "scripted"), load_suite(suite), eval_id="ev-local",
                         model="scripted", suite="s", k=3, workers=2)
        remote = cli("eval", "--base-url", server.url, "--model", "scripted", "--tasks", str(suite), "-k", "3",
                     "--engine", "ray", "--ray-address", two_node_cluster, "--workers", "2")["evals"][0]
    assert remote["engine"] == {"engine": "ray", "workers": 2, "address": two_node_cluster, "cpus": 2}
    assert remote["ran"] == 9 and remote["overall"] == local["overall"]
    assert outcomes(store, remote["eval_id"]) == outcomes(store, "ev-local")
    workers = {r["detail"]["worker"] for r in store.rollouts(remote["eval_id"])}
    assert str(os.getpid()) not in {w.rsplit(":", 1)[1] for w in workers}  # Ray's worker processes ran them
