"""`bashgym eval --engine ray`: episodes as Ray tasks on a real local Ray (the session's `ray_session`), each in
its own sandbox in a Ray worker process, against the scripted OpenAI-compatible server of test_eval_runner:
the same rollouts as the local engine, and a resume that crosses engines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.errors import ConfigError
from bashgym.eval.clients import OpenAIClient
from bashgym.eval.runner import run_eval
from bashgym.gym.task import load_suite
from bashgym.store import Store
from harness.openai_server import ScriptedOpenAIServer, first_user_text
from test_eval_runner import known_policy, sample_of, three_tasks


@pytest.fixture()
def suite(tmp_path: Path) -> Path:
    return three_tasks(tmp_path)


def outcomes(store: Store, eval_id: str) -> dict[tuple[str, int], Any]:
    """Per (task, sample): the verdict and every command with its output and exit code."""
    out = {}
    for r in store.rollouts(eval_id):
        turn = store.get_session(r["session_id"]).turns[0]
        calls = [(c.input, c.output, c.exit_code) for c in turn.tool_calls]
        out[(r["task_id"], r["sample_idx"])] = (r["status"], r["reward"], calls, turn.steps[-1].text)
    return out


def worker_pids(store: Store, eval_id: str) -> set[int]:
    return {int(r["detail"]["worker"].rsplit(":", 1)[1]) for r in store.rollouts(eval_id)}


def test_ray_engine_stores_the_rollouts_the_local_engine_stores(store: Store, suite: Path,
                                                                ray_session: dict) -> None:
    tasks = load_suite(suite)
    with ScriptedOpenAIServer(known_policy) as server:
        summaries = {engine: run_eval(store, OpenAIClient(server.url, "scripted"), tasks, eval_id=f"ev-{engine}",
                                      model="scripted", suite="s", k=3, workers=2, engine=engine)
                     for engine in ("local", "ray")}
    local, ray = outcomes(store, "ev-local"), outcomes(store, "ev-ray")
    assert len(local) == 9 and ray == local
    assert local[("task-b", 1)][0] == "passed" and local[("task-b", 2)][0] == "failed"  # the script's B samples
    for key in ("overall", "categories", "tasks"):
        assert summaries["ray"][key] == summaries["local"][key]
    assert summaries["ray"]["overall"]["pass@1"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert worker_pids(store, "ev-local") == {os.getpid()}  # threads of this process
    assert os.getpid() not in worker_pids(store, "ev-ray")  # Ray worker processes, a sandbox each
    assert store.get_eval("ev-ray")["config"]["engine"] == "ray"


def test_an_eval_started_locally_resumes_on_ray_and_reruns_only_what_got_no_score(
        suite: Path, store: Store, ray_session: dict) -> None:
    broken = {"on": True}

    def flaky(body: dict) -> Any:
        if broken["on"] and "TASK-B" in first_user_text(body) and sample_of(body) == 2:
            return (500, "model worker crashed")
        return known_policy(body)

    runner = CliRunner()
    with ScriptedOpenAIServer(flaky) as server:
        args = ["eval", "--base-url", server.url, "--model", "scripted", "--tasks", str(suite), "-k", "3",
                "--workers", "2", "--json"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        started = json.loads(first.stdout)["evals"][0]
        assert (started["ran"], started["overall"]["errors"], started["engine"]) == (9, 1, {"engine": "local",
                                                                                           "workers": 2})
        broken["on"] = False
        before = len(server.requests)
        resumed = runner.invoke(app, [*args, "--resume", "--engine", "ray"])
        rerun = server.requests[before:]
    assert resumed.exit_code == 0, resumed.output
    assert f"engine: ray (local, 2 CPUs), 2 workers against {server.url}" in " ".join(resumed.output.split())
    done = json.loads(resumed.stdout)["evals"][0]
    assert (done["eval_id"], done["ran"]) == (started["eval_id"], 1)
    assert done["engine"] == {"engine": "ray", "workers": 2, "address": "local", "cpus": 2}
    assert {(first_user_text(b)[:6], sample_of(b)) for b in rerun} == {("TASK-B", 2)}
    assert done["overall"]["errors"] == 0 and done["overall"]["pass@1"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    rows = {(r["task_id"], r["sample_idx"]): r for r in store.rollouts(done["eval_id"])}
    assert len(rows) == 9 and rows[("task-b", 2)]["status"] == "failed"  # scored now: red, not blue
    assert int(rows[("task-b", 2)]["detail"]["worker"].rsplit(":", 1)[1]) != os.getpid()  # a Ray worker ran it
    assert {int(r["detail"]["worker"].rsplit(":", 1)[1]) for k, r in rows.items() if k != ("task-b", 2)} == {
        os.getpid()}  # the rest stayed as the local engine stored them


def test_ray_engine_flags_that_cannot_work_say_why(suite: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--model", str(tmp_path), "--tasks", str(suite), "--engine", "ray"])
    assert isinstance(res.exception, ConfigError) and "--engine ray sends every episode" in str(res.exception)
    res = runner.invoke(app, ["eval", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--engine", "spark"])
    assert isinstance(res.exception, ConfigError) and "spark" in str(res.exception)
    res = runner.invoke(app, ["eval", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--ray-address", "auto"])
    assert isinstance(res.exception, ConfigError) and "--ray-address needs --engine ray" in str(res.exception)
