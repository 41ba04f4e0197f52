"""Eval end to end: the real gym env and sandbox, a scripted OpenAI-compatible server on 127.0.0.1 whose
answers are known (task A always solved, B in 2 of 5 samples, C never), the store, and the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.eval.clients import OpenAIClient
from bashgym.eval.metrics import pass_at_k, summarize
from bashgym.eval.runner import run_eval
from bashgym.gym.task import load_suite
from bashgym.store import Store
from harness.openai_server import ScriptedOpenAIServer, assistant_turns, bash_call, first_user_text, say

B_SOLVED_SAMPLES = {1, 3}  # task B is solved in 2 of 5 samples


def _task(root: Path, task_id: str, category: str, instruction: str, test: str) -> None:
    d = root / task_id
    (d / "tests").mkdir(parents=True)
    (d / "task.yaml").write_text(
        f"id: {task_id}\ncategory: {category}\ninstruction: {json.dumps(instruction)}\nmax_steps: 5\n"
    )
    (d / "tests" / "test.sh").write_text("#!/bin/bash\nset -e\n" + textwrap.dedent(test))
    (d / "solution.sh").write_text("#!/bin/bash\ntrue\n")


def three_tasks(tmp_path: Path) -> Path:
    """Three small tasks, one command each to pass (the eval tests' suite)."""
    root = tmp_path / "suite"
    _task(root, "task-a", "files", "TASK-A: write hello into hello.txt", 'test "$(cat hello.txt)" = hello\n')
    _task(root, "task-b", "text", "TASK-B: write the word blue into color.txt", 'grep -qx blue color.txt\n')
    _task(root, "task-c", "text", "TASK-C: write 42 into answer.txt", 'test "$(cat answer.txt)" = 42\n')
    return root


@pytest.fixture()
def suite(tmp_path: Path) -> Path:
    return three_tasks(tmp_path)


def sample_of(body: dict) -> int:
    """The agent seeds request t of sample i with i * 1000 + t (runner seed 0)."""
    return int(body.get("seed") or 0) // 1000


def known_policy(body: dict) -> dict:
    """A model with known skill: A always, B in samples 1 and 3, C never (gives up at once)."""
    user, turn = first_user_text(body), assistant_turns(body)
    if "TASK-C" in user:
        return say("I cannot do this task.")
    if turn >= 1:
        return say("Done.")
    if "TASK-A" in user:
        return bash_call("echo hello > hello.txt")
    return bash_call("echo blue > color.txt" if sample_of(body) in B_SOLVED_SAMPLES else "echo red > color.txt")


def fenced_policy(body: dict) -> dict:
    user, turn = first_user_text(body), assistant_turns(body)
    if turn >= 1 or "TASK-A" not in user:
        return say("Finished.")
    return say("Let me write it.\n```bash\necho hello > hello.txt\n```")


def test_pass_at_k_of_a_scripted_model_equals_the_hand_computed_value(store, suite: Path) -> None:
    tasks = load_suite(suite)
    with ScriptedOpenAIServer(known_policy) as server:
        client = OpenAIClient(server.url, "scripted")
        summary = run_eval(store, client, tasks, eval_id="ev-known", model="scripted", suite=str(suite), k=5,
                           workers=4)
    by_task = {t["task_id"]: t for t in summary["tasks"]}
    assert {tid: (t["n"], t["c"]) for tid, t in by_task.items()} == {
        "task-a": (5, 5), "task-b": (5, 2), "task-c": (5, 0)}
    # by hand: pass@1 = (5/5 + 2/5 + 0/5) / 3; pass@5 = (1 + [1 - C(3,5)/C(5,5) = 1] + 0) / 3
    assert summary["overall"]["pass@1"] == pytest.approx((1 + 0.4 + 0) / 3)
    assert summary["overall"]["pass@5"] == pytest.approx(2 / 3)
    assert summary["categories"]["text"]["pass@1"] == pytest.approx(0.2)
    # pass@2 of task B from the stored rollouts: 1 - C(3,2)/C(5,2) = 0.7
    rows = [{"task_id": r["task_id"], "status": r["status"]} for r in store.rollouts("ev-known")]
    assert {t["task_id"]: t["pass@2"] for t in summarize(rows, 2)["tasks"]}["task-b"] == pytest.approx(0.7)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    # the solved samples of B are exactly the scripted ones
    solved_b = {r["sample_idx"] for r in store.rollouts("ev-known") if r["task_id"] == "task-b"
                and r["status"] == "passed"}
    assert solved_b == B_SOLVED_SAMPLES
    assert summary["overall"]["prompt_tokens"] > 0 and store.get_eval("ev-known")["metrics"]["pass@5"] == pytest.approx(2 / 3)


def test_rollouts_are_stored_as_gym_sessions_with_reward(store, suite: Path) -> None:
    tasks = [t for t in load_suite(suite) if t.id == "task-a"]
    with ScriptedOpenAIServer(known_policy) as server:
        run_eval(store, OpenAIClient(server.url, "scripted"), tasks, eval_id="ev-s", model="scripted",
                 suite="s", k=2, workers=2)
    sessions = store.list_sessions(source="gym")
    assert len(sessions) == 2
    session = store.get_session(store.rollouts("ev-s")[0]["session_id"])
    assert session.source == "gym" and session.models == ["scripted"]
    assert {k: session.meta[k] for k in ("task_id", "reward", "eval_id", "model")} == {
        "task_id": "task-a", "reward": 1.0, "eval_id": "ev-s", "model": "scripted"}
    turn = session.turns[0]
    assert turn.prompt.startswith("TASK-A")
    call = turn.tool_calls[0]
    assert (call.tool_name, call.input, call.exit_code) == ("bash", {"command": "echo hello > hello.txt"}, 0)
    assert call.output == ""
    assert turn.steps[-1].kind == "message" and turn.steps[-1].text == "Done."


def test_endpoint_without_tools_is_driven_by_fenced_bash_blocks(store, suite: Path) -> None:
    tasks = [t for t in load_suite(suite) if t.id == "task-a"]
    with ScriptedOpenAIServer(fenced_policy, tools_supported=False) as server:
        summary = run_eval(store, OpenAIClient(server.url, "plain"), tasks, eval_id="ev-f", model="plain",
                           suite="s", k=1, workers=1)
    assert summary["overall"]["passed"] == 1
    assert "tools" not in server.requests[-1]
    assert "```bash" in server.requests[-1]["messages"][0]["content"]  # the fenced protocol's system prompt
    step = store.get_session(store.rollouts("ev-f")[0]["session_id"]).turns[0].tool_calls[0]
    assert step.input == {"command": "echo hello > hello.txt"}


def test_infrastructure_failures_get_no_score_and_resume_reruns_only_them(store, suite: Path) -> None:
    tasks = [t for t in load_suite(suite) if t.id == "task-b"]
    broken = {"on": True}

    def flaky(body: dict):
        if broken["on"] and "TASK-B" in first_user_text(body) and sample_of(body) == 2:
            return (500, "model worker crashed")
        return known_policy(body)

    with ScriptedOpenAIServer(flaky) as server:
        client = OpenAIClient(server.url, "scripted", retries=0)
        first = run_eval(store, client, tasks, eval_id="ev-r", model="scripted", suite="s", k=5, workers=4,
                         retries=0)
        assert first["overall"]["errors"] == 1 and first["ran"] == 5
        errored = [r for r in store.rollouts("ev-r") if r["status"] == "error"]
        assert [(r["task_id"], r["sample_idx"], r["reward"]) for r in errored] == [("task-b", 2, None)]
        assert "500" in errored[0]["detail"]["error"]
        # task B: 4 scored samples (1, 3 solved) — the failure is not counted as a 0
        b = next(t for t in first["tasks"] if t["task_id"] == "task-b")
        assert (b["n"], b["c"], b["pass@1"]) == (4, 2, 0.5)

        broken["on"] = False
        before = len(server.requests)
        again = run_eval(store, client, tasks, eval_id="ev-r", model="scripted", suite="s", k=5, workers=4)
        rerun_requests = server.requests[before:]
    assert again["ran"] == 1 and again["overall"]["errors"] == 0
    assert {(first_user_text(b)[:6], sample_of(b)) for b in rerun_requests} == {("TASK-B", 2)}
    assert len(store.rollouts("ev-r")) == 5 and len(store.list_sessions(source="gym")) == 5


def test_cli_eval_json_then_resume_runs_nothing_new(suite: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    with ScriptedOpenAIServer(known_policy) as server:
        args = ["eval", "--base-url", server.url, "--model", "scripted", "--tasks", str(suite), "--task", "task-a",
                "--task", "task-c", "-k", "2", "--workers", "4", "--price-in", "1.0", "--price-out", "2.0", "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)["evals"][0]
        assert data["overall"]["pass@2"] == pytest.approx(0.5) and data["ran"] == 4
        assert data["overall"]["cost_usd"] == pytest.approx((data["overall"]["prompt_tokens"] * 1.0
                                                             + data["overall"]["completion_tokens"] * 2.0) / 1e6)
        resumed = runner.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    again = json.loads(resumed.stdout)["evals"][0]
    assert again["eval_id"] == data["eval_id"] and again["ran"] == 0
    listed = runner.invoke(app, ["eval", "list", "--json"])
    assert [e["id"] for e in json.loads(listed.stdout)] == [data["eval_id"]]
    shown = runner.invoke(app, ["eval", "show", data["eval_id"]])
    assert shown.exit_code == 0 and "task-c" in shown.stdout
    png = tmp_path / "self.png"
    compared = runner.invoke(app, ["eval", "compare", data["eval_id"], data["eval_id"], "--png", str(png), "--json"])
    assert compared.exit_code == 0, compared.output
    rows = {r["category"]: r for r in json.loads(compared.stdout)["rows"]}
    assert rows["all"]["base_pass@2"] == rows["all"]["adapter_pass@2"] == pytest.approx(0.5)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_local_tiny_model_eval_with_adapter_compare_runs_end_to_end(suite: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from harness.tiny_model import tiny_model_dir

    model_dir = tiny_model_dir()
    adapter_dir = tmp_path / "adapter"
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                          LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    lora.save_pretrained(adapter_dir)
    with Store.open() as store:  # the adapter as a train run: resolved through the runs table
        store.create_run("run-sft-tiny", "sft", dataset_id=None, base_model=str(model_dir), config={},
                         output_dir=str(tmp_path), status="finished")
    png = tmp_path / "compare.png"
    result = CliRunner().invoke(app, [
        "eval", "--adapter", "run-sft-tiny", "--compare", "--tasks", str(suite),
        "--limit", "2", "-k", "1", "--workers", "2", "--max-tokens", "12", "--max-turns", "2", "--png", str(png), "--json",
    ])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    base, adapted = out["evals"]
    assert (base["label"], adapted["label"]) == ("base", "adapter")
    assert adapted["adapter"] == "run-sft-tiny" and base["model"] == str(model_dir.resolve())
    for s in (base, adapted):  # a random model scores ~0, but every rollout ran and got a score
        assert s["overall"]["samples"] == 2 and s["overall"]["errors"] == 0
        assert s["overall"]["completion_tokens"] > 0
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"


def test_cli_eval_help_shows_examples() -> None:
    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and "--base-url http://127.0.0.1:8000/v1" in result.stdout


def test_cli_eval_against_an_unreachable_endpoint_says_why_there_is_no_score(suite: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["eval", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "scripted", "--tasks", str(suite),
            "--task", "task-a", "-k", "1", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["evals"][0]
    assert data["overall"]["errors"] == 1
    assert f"127.0.0.1:{port}" in data["first_error"] and "ConnectError" in data["first_error"]
    human = CliRunner().invoke(app, [*args, "--resume"])
    assert "got no score" in human.output and "first error:" in human.output and "ConnectError" in human.output


def test_cli_eval_show_of_an_unknown_id_points_at_a_real_command(store) -> None:
    result = CliRunner().invoke(app, ["eval", "show", "ev-nope"])
    assert result.exit_code != 0
    assert "no eval with id 'ev-nope'" in str(result.exception)
    hint = str(result.exception).split("see `")[1].split("`")[0]
    assert CliRunner().invoke(app, [*hint.split()[1:], "--help"]).exit_code == 0  # `bashgym eval list` exists
