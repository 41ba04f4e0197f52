"""`bashgym train KIND --num-processes N`: the same training on N processes launched by accelerate (DDP over
gloo on the CPU), checked against one process: the same batches in the same order, the same losses, one
adapter and one run record. Real launches: `accelerate launch` → torchrun → two `bashgym.cli` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.errors import ConfigError, MissingDependencyError
from bashgym.paths import home_dir
from bashgym.store import Store
from bashgym.train.config import build_trl_config, load_spec, spec_from_mapping, vllm_server_keys
from harness.tiny_model import tiny_model_dir
from test_train import sft_example, write_jsonl

TESTS_DIR = Path(__file__).parent
# Two processes vs one, same global batch: DDP averages the same per-token losses in another order, so the
# logged losses agree to float rounding (measured: |Δ| < 1e-6); a different batch moves them by far more.
LOSS_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tiny() -> Path:
    return tiny_model_dir()


def launch(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """`bashgym ARGS` in a subprocess that can import the tests' reward module (harness.batch_log)."""
    path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "bashgym.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path, **env}, timeout=400)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines at the terminal width


def metrics_records(output_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_sft_on_two_processes_trains_the_batches_of_one_process_and_saves_one_adapter(
        tiny: Path, tmp_path: Path, store: Store) -> None:
    from safetensors.torch import load_file

    from bashgym.train.run import train

    data = write_jsonl(tmp_path / "sft" / "train.jsonl", [sft_example(i) for i in range(16)]).parent
    common = {"base_model": str(tiny), "dataset": str(data), "gpu": "cpu", "learning_rate": 5e-3,
              "lora": {"r": 4, "lora_dropout": 0.0}}  # no dropout: nothing random but the data order
    one = train(spec_from_mapping({**common, "max_steps": 3, "per_device_train_batch_size": 4,
                                   "output_dir": str(tmp_path / "one")}, "sft"), store)
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump({**common, "per_device_train_batch_size": 2}))  # 2 × 2 rows = the same 4

    proc = launch(["train", "sft", "--config", str(config), "--max-steps", "3", "--num-processes", "2", "--json"])
    two = json.loads(proc.stdout)  # one JSON document: only rank 0 reports
    out = Path(two["output_dir"])
    assert out.name == two["run_id"] and out.parent.name == "runs"  # the default place, named by the run id
    assert f"launching sft run {two['run_id']} on 2 processes (DDP; gloo on the CPU) through accelerate" in flat(
        proc.stderr)

    one_losses, two_losses = one.metrics["loss_history"], two["metrics"]["loss_history"]
    assert [s for s, _ in two_losses] == [s for s, _ in one_losses] == [1, 2, 3]
    assert all(abs(a - b) <= LOSS_TOLERANCE for (_, a), (_, b) in zip(one_losses, two_losses, strict=True)), (
        one_losses, two_losses)
    # The same rows in the same order: the tokens seen after each step (summed over both processes) match.
    tokens = [[r["num_tokens"] for r in metrics_records(d) if "loss" in r] for d in (one.output_dir, out)]
    assert tokens[0] == tokens[1] and len(set(tokens[0])) == 3

    # One record: one run row with the world size, one run.json, each step logged once (rank 0 writes).
    runs = {r["id"]: r for r in store.list_runs()}
    assert set(runs) == {one.run_id, two["run_id"]}
    assert runs[two["run_id"]]["status"] == "completed" and runs[two["run_id"]]["config"]["world_size"] == 2
    assert json.loads((out / "run.json").read_text())["config"]["world_size"] == 2
    assert [r["step"] for r in metrics_records(out) if "loss" in r] == [1, 2, 3]
    # One adapter, the same files and (within rounding) the same weights as one process trained.
    assert sorted(p.name for p in (out / "adapter").iterdir()) == sorted(p.name for p in one.adapter_dir.iterdir())
    assert [p.parent.name for p in out.rglob("adapter_model.safetensors") if "checkpoint-" not in str(p)] == [
        "adapter"]
    w1, w2 = (load_file(d / "adapter_model.safetensors") for d in (one.adapter_dir, out / "adapter"))
    assert w1.keys() == w2.keys() and all((w1[k] - w2[k]).abs().max() < 1e-4 for k in w1)


@pytest.mark.slow
def test_grpo_on_two_processes_scores_the_prompts_of_one_process_in_the_same_order(
        tiny: Path, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from bashgym.train.run import train

    rows = [{"prompt": [{"role": "user", "content": f"list the files in dir {i}"}], "idx": i} for i in range(8)]
    data = write_jsonl(tmp_path / "grpo" / "train.jsonl", rows).parent
    common = {"base_model": str(tiny), "dataset": str(data), "gpu": "cpu", "max_steps": 2, "num_generations": 4,
              "max_completion_length": 8, "reward_funcs": ["harness.batch_log:logged_length_reward"],
              "lora": {"r": 4}}
    monkeypatch.setenv("BASHGYM_TEST_BATCH_LOG", str(tmp_path / "one.jsonl"))
    train(spec_from_mapping({**common, "per_device_train_batch_size": 8}, "grpo"), store)  # 2 prompts × 4
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump({**common, "per_device_train_batch_size": 4}))
    proc = launch(["train", "grpo", "--config", str(config), "--num-processes", "2",
                   "--output-dir", str(tmp_path / "two")], BASHGYM_TEST_BATCH_LOG=str(tmp_path / "two.jsonl"))
    assert "completed: 2 steps" in flat(proc.stdout)

    def order(log: Path) -> list[list[int]]:
        """The rows scored at each step, rank 0's before rank 1's."""
        records = sorted((json.loads(line) for line in log.read_text().splitlines()),
                         key=lambda r: (r["step"], r["rank"]))
        return [[i for r in records if r["step"] == step for i in r["idx"]] for step in sorted({r["step"] for r in records})]

    one, two = order(tmp_path / "one.jsonl"), order(tmp_path / "two.jsonl")
    assert len(one) == 2 and all(len(step) == 8 and len(set(step)) == 2 for step in one)  # 2 prompts × 4 each
    assert two == one
    ranks = [json.loads(line)["rank"] for line in (tmp_path / "two.jsonl").read_text().splitlines()]
    assert sorted(set(ranks)) == [0, 1]  # both processes generated and scored


def test_launch_flags_that_cannot_work_say_why_before_any_process_starts(
        tiny: Path, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_jsonl(tmp_path / "sft" / "train.jsonl", [sft_example(i) for i in range(4)]).parent
    base = ["train", "sft", "--base-model", str(tiny), "--dataset", str(data), "--gpu", "cpu"]
    runner = CliRunner()
    res = runner.invoke(app, [*base, "--accelerate-config", str(tmp_path / "nowhere.yaml")])
    assert isinstance(res.exception, ConfigError) and "nowhere.yaml does not exist" in str(res.exception)
    res = runner.invoke(app, [*base, "--num-processes", "0"])
    assert isinstance(res.exception, ConfigError) and "--num-processes must be 1 or more" in str(res.exception)
    monkeypatch.setenv("WORLD_SIZE", "2")  # already one of accelerate's processes
    res = runner.invoke(app, [*base, "--num-processes", "2"])
    assert isinstance(res.exception, ConfigError) and "not both" in str(res.exception)
    assert store.list_runs() == [] and not (home_dir() / "runs").exists()


def test_vllm_server_flag_points_grpo_generation_at_a_server(tiny: Path, tmp_path: Path, store: Store) -> None:
    """The flag becomes TRL's server-mode keys. Only the plumbing is checked here: this machine has no GPU
    and no vLLM, so the run stops at the missing package, before a run is recorded."""
    spec = load_spec(None, "grpo", {"base_model": str(tiny), "dataset": "gym:builtin",
                                    **vllm_server_keys("http://10.0.0.5:8000/")})
    args = build_trl_config(spec, tmp_path / "out", {"use_cpu": True})
    assert (args.use_vllm, args.vllm_mode, args.vllm_server_base_url) == (True, "server", "http://10.0.0.5:8000")
    with pytest.raises(ConfigError, match="--vllm-server: got '10.0.0.5:8000', expected a URL"):
        vllm_server_keys("10.0.0.5:8000")
    res = CliRunner().invoke(app, ["train", "grpo", "--base-model", str(tiny), "--dataset", "gym:builtin",
                                   "--gpu", "cpu", "--vllm-server", "http://127.0.0.1:8000"])
    assert isinstance(res.exception, MissingDependencyError), res.output
    assert 'server http://127.0.0.1:8000) needs the vllm package' in str(res.exception)
    assert 'pip install "trl[vllm]"' in str(res.exception) and store.list_runs() == []
