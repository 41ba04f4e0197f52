"""Training on the CPU with the tiny local model: SFT, DPO and GRPO through TRL + PEFT, the run record,
adapter reload/merge/export, assistant-only loss masking, config errors, and the CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.errors import ConfigError, NotFoundError
from bashgym.store import Store
from bashgym.train.config import load_spec, spec_from_mapping
from harness.tiny_model import tiny_model_dir

TOOLS = [{"type": "function", "function": {
    "name": "bash", "description": "Run a bash command.",
    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}]
COMMANDS = ["ls -la", "git status", "wc -l notes.txt", "cat README.md"]


def sft_example(i: int) -> dict[str, Any]:
    """One row in the factory's SFT format: messages with tool_calls (arguments a JSON string) + tools."""
    cmd = COMMANDS[i % len(COMMANDS)]
    return {
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": f"USERTEXT task {i}: run {cmd}"},
            {"role": "assistant", "content": "", "tool_calls": [{
                "type": "function", "id": f"call_{i}",
                "function": {"name": "bash", "arguments": json.dumps({"command": cmd})}}]},
            {"role": "tool", "tool_call_id": f"call_{i}", "name": "bash", "content": "TOOLOUTPUT ok"},
            {"role": "assistant", "content": f"Done with task {i}."},
        ],
        "tools": TOOLS, "session_id": f"sess-{i % 3}", "turn_idx": 0, "source": "claude_code", "tier": "gold",
        "score": 0.9,
    }


def dpo_example(i: int) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": f"list the files in dir {i}"}],
        "chosen": [{"role": "assistant", "content": "ls -la"}],
        "rejected": [{"role": "assistant", "content": "rm -rf / and then some more junk text"}],
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny() -> Path:
    return tiny_model_dir()


@pytest.fixture()
def sft_dir(tmp_path: Path) -> Path:
    d = tmp_path / "sft-data"
    write_jsonl(d / "train.jsonl", [sft_example(i) for i in range(12)])
    write_jsonl(d / "validation.jsonl", [sft_example(100 + i) for i in range(4)])
    return d


def run_spec(kind: str, tiny: Path, dataset: str | Path, **extra: Any):
    cfg = {"base_model": str(tiny), "dataset": str(dataset), "gpu": "cpu", "max_steps": 5,
           "per_device_train_batch_size": 4, "learning_rate": 5e-3, "save_steps": 5, **extra}
    return spec_from_mapping(cfg, kind, "test")


def assert_finite_and_changed(losses: list[tuple[int, float]]) -> None:
    values = [v for _, v in losses]
    assert values and all(math.isfinite(v) for v in values)
    assert values[-1] != values[0]


# ---------------------------------------------------------------------------------------------- tiny model

def test_tiny_model_is_small_qwen2_with_tool_chat_template(tiny: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny)
    assert (config.model_type, config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (
        "qwen2", 64, 4, 4)
    tok = AutoTokenizer.from_pretrained(tiny)
    text = tok.apply_chat_template(sft_example(0)["messages"], tools=TOOLS, tokenize=False)
    assert '<tool_call>\n{"name": "bash", "arguments": {"command": "ls -la"}}\n</tool_call><|im_end|>' in text
    assert "<tool_response>\nTOOLOUTPUT ok\n</tool_response>" in text
    assert '"name": "bash"' in text.split("\n</tools>")[0]  # the tools list is rendered in the system turn
    assert re.search(r"{%-? generation -?%}.*<\|im_end\|>.*{%-? endgeneration -?%}", tok.chat_template)
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level BPE round-trips


DISTINCT_COMMANDS = ["ls -la", "git status", "wc -l notes.txt", "cat README.md", "pwd", "df -h",
                     "grep -rn TODO src", "python -m pytest -q"]


def test_tiny_model_overfits_eight_examples_and_generates_them_from_the_inference_prompt(
        tiny: Path, tmp_path: Path, store: Store) -> None:
    """The tiny model can learn: plain LoRA takes 8 conversations below loss 0.5, and greedy decoding from the
    prompt an agent sees at inference (system + tools + user, then + the tool's result) gives them back."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bashgym.train.run import train

    rows = []
    for i, cmd in enumerate(DISTINCT_COMMANDS):
        row = sft_example(i)
        row["messages"][1]["content"] = f"Task {i}: run {cmd}"
        row["messages"][2]["tool_calls"][0]["function"]["arguments"] = json.dumps({"command": cmd})
        rows.append(row)
    data = write_jsonl(tmp_path / "eight.jsonl", rows)
    result = train(run_spec("sft", tiny, data, max_steps=40, per_device_train_batch_size=8, learning_rate=1e-2,
                            save_steps=1000), store)
    assert result.metrics["train_examples"] == 8 and result.metrics["final_loss"] < 0.5
    assert result.metrics["tools"] == ["bash"]  # the tool set it was trained with is recorded

    tok = AutoTokenizer.from_pretrained(result.adapter_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), str(result.adapter_dir)).eval()

    def greedy(messages: list[dict[str, Any]]) -> str:
        prompt = tok.apply_chat_template(messages, tools=TOOLS, add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)
        with torch.no_grad():
            out = model.generate(**prompt, max_new_tokens=40, do_sample=False)
        return tok.decode(out[0, prompt["input_ids"].shape[1]:])

    for i, (row, cmd) in enumerate(zip(rows, DISTINCT_COMMANDS, strict=True)):
        messages = row["messages"]
        assert greedy(messages[:2]) == (
            f'<tool_call>\n{{"name": "bash", "arguments": {{"command": "{cmd}"}}}}\n</tool_call><|im_end|>')
        assert greedy(messages[:4]) == f"Done with task {i}.<|im_end|>"


# ---------------------------------------------------------------------------------------------- masking

def test_assistant_only_loss_trains_only_assistant_tokens(tiny: Path, sft_dir: Path, store: Store) -> None:
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from bashgym.train.data import load_training_data

    data = load_training_data(str(sft_dir), store, "sft")
    tok = AutoTokenizer.from_pretrained(tiny)
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny), processing_class=tok, train_dataset=data.train,
        args=SFTConfig(output_dir=str(sft_dir / "out"), assistant_only_loss=True, use_cpu=True, report_to="none"),
        peft_config=LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    trained = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab != -100])
    masked = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab == -100])
    assert '{"name": "bash", "arguments": {"command": "ls -la"}}' in trained
    assert "Done with task 0." in trained
    assert trained.count("<|im_end|>") == 2  # both assistant turns learn to stop
    assert "USERTEXT" not in trained and "TOOLOUTPUT" not in trained and "Run a bash command" not in trained
    assert "USERTEXT" in masked and "TOOLOUTPUT" in masked
    assert 0 < sum(lab != -100 for lab in labels) < len(labels) / 2


def test_assistant_only_loss_on_a_template_without_generation_tags_says_what_to_do(tiny: Path) -> None:
    from transformers import AutoTokenizer

    from bashgym.train.sft import check_trainable_template

    tok = AutoTokenizer.from_pretrained(tiny)
    check_trainable_template(tok, spec_from_mapping({}, "sft"))  # the tiny template is fine
    tok.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    with pytest.raises(ConfigError, match="assistant_only_loss: false in train.yaml"):
        check_trainable_template(tok, spec_from_mapping({"base_model": "m"}, "sft", "train.yaml"))


# ---------------------------------------------------------------------------------------------- SFT

def test_sft_trains_saves_reloads_merges_and_generates(tiny: Path, sft_dir: Path, store: Store) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bashgym.train.adapter import export_run, merge_run
    from bashgym.train.run import train

    result = train(run_spec("sft", tiny, sft_dir), store)
    m = result.metrics
    assert_finite_and_changed(m["loss_history"])
    assert m["steps"] == 5 and m["train_examples"] == 12 and m["eval_examples"] == 4
    assert math.isfinite(m["eval_loss"]) and m["eval_split"] == "validation"
    assert result.loss_png is not None and result.loss_png.read_bytes()[:4] == b"\x89PNG"
    assert (result.output_dir / "checkpoint-5").is_dir()
    row = store.get_run(result.run_id)
    assert row["status"] == "completed" and row["finished_at"] and row["metrics"]["final_loss"] == m["final_loss"]

    # reload the adapter on the base model; merging gives the same logits
    tok = AutoTokenizer.from_pretrained(result.adapter_dir)
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), str(result.adapter_dir))
    prompt = tok.apply_chat_template(sft_example(1)["messages"][:2], tools=TOOLS, add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)
    with torch.no_grad():
        adapted = peft_model(**prompt).logits
        base = AutoModelForCausalLM.from_pretrained(tiny)(**prompt).logits
    assert not torch.allclose(adapted, base)  # the adapter changed the model
    merged_dir = merge_run(row)
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    with torch.no_grad():
        assert torch.allclose(merged(**prompt).logits, adapted, atol=1e-4)
        out = merged.generate(**prompt, max_new_tokens=6, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]
    assert isinstance(tok.decode(out[0, prompt["input_ids"].shape[1]:]), str)

    export_dir = export_run(row)
    cfg = json.loads((export_dir / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(tiny) and cfg["r"] == 16
    assert (export_dir / "adapter_model.safetensors").is_file() and "vllm serve" in (export_dir / "README.md").read_text()


def test_interrupted_run_resumes_from_last_checkpoint(tiny: Path, sft_dir: Path, store: Store, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    from bashgym.train.run import train

    class InterruptAfterStep3(TrainerCallback):  # step 3 is trained and logged; the checkpoint is step 2's
        def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            if state.global_step == 3:
                raise KeyboardInterrupt

    out = tmp_path / "run"
    spec = run_spec("sft", tiny, sft_dir, output_dir=str(out), max_steps=4, save_steps=2)
    with pytest.raises(KeyboardInterrupt):
        train(spec, store, callbacks=[InterruptAfterStep3()])
    [row] = store.list_runs()
    assert row["status"] == "interrupted" and "KeyboardInterrupt" in row["metrics"]["error"]
    assert (out / "checkpoint-2").is_dir() and not (out / "adapter").exists()
    with pytest.raises(ConfigError, match="--resume"):  # never silently overwrite checkpoints
        train(run_spec("sft", tiny, sft_dir, output_dir=str(out), max_steps=4, save_steps=2), store)

    resumed = train(run_spec("sft", tiny, sft_dir, output_dir=str(out), max_steps=4, save_steps=2), store, resume=True)
    assert resumed.run_id == row["id"] and Path(resumed.resumed_from or "").name == "checkpoint-2"
    assert [s for s, _ in resumed.metrics["loss_history"]] == [1, 2, 3, 4]
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2, 3, 4]  # step 3 was logged before the interrupt too
    [row] = store.list_runs()
    assert row["status"] == "completed" and row["finished_at"] and (out / "adapter" / "adapter_config.json").is_file()


# ---------------------------------------------------------------------------------------------- max_length

def long_session_rows() -> list[dict[str, Any]]:
    """A short example, one with three command steps (too long whole, its first step fits), and one whose
    first reply cannot fit at all."""
    short = sft_example(0)
    short["example_id"] = "short"
    steps = sft_example(1)
    steps["example_id"] = "three-steps"
    head, tail = steps["messages"][:2], []
    for n, cmd in enumerate(["ls -la", "cat README.md", "git status"]):
        tail += [{"role": "assistant", "content": "", "tool_calls": [{"type": "function", "id": f"c{n}", "function": {
                     "name": "bash", "arguments": json.dumps({"command": cmd})}}]},
                 {"role": "tool", "tool_call_id": f"c{n}", "name": "bash", "content": "TOOLOUTPUT " * 60}]
    steps["messages"] = head + tail + [{"role": "assistant", "content": "Done: FINALREPLY."}]
    huge = sft_example(2)
    huge["example_id"] = "huge-prompt"
    huge["messages"][1]["content"] = "USERTEXT " * 400
    return [short, steps, huge]


def test_examples_over_max_length_are_cut_to_whole_messages_or_dropped_and_reported(
        tiny: Path, tmp_path: Path, store: Store) -> None:
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from bashgym.train.fit import conversation_length, fit_dataset
    from bashgym.train.run import train

    tok = AutoTokenizer.from_pretrained(tiny)
    rows = long_session_rows()
    max_length = max(conversation_length(tok, rows[0]["messages"], TOOLS),
                     conversation_length(tok, rows[1]["messages"][:3], TOOLS)) + 10
    assert conversation_length(tok, rows[1]["messages"][:5], TOOLS) > max_length  # only the first step fits
    data = write_jsonl(tmp_path / "long.jsonl", rows)

    result = train(run_spec("sft", tiny, data, max_steps=1, max_length=max_length), store)
    fit = result.metrics["over_max_length"]["train"]
    assert (fit["total"], fit["kept"], fit["truncated"], fit["dropped"]) == (3, 2, ["three-steps"], ["huge-prompt"])
    assert result.metrics["train_examples"] == 2  # what trained, not what the file held
    assert "2 of 3 examples longer than max_length" in " ".join(result.notes)

    # What TRL trains on: every kept example whole, each ending in a complete assistant reply it learns.
    from bashgym.train.data import load_training_data

    fitted, _ = fit_dataset(load_training_data(str(data), store, "sft").train, tok, max_length)
    assert [len(m) for m in fitted["messages"]] == [5, 3]  # the long one keeps system, user and its first call
    trainer = SFTTrainer(model=str(tiny), processing_class=tok, train_dataset=fitted, args=SFTConfig(
        output_dir=str(tmp_path / "out"), assistant_only_loss=True, max_length=max_length, use_cpu=True,
        report_to="none"))
    assert len(trainer.train_dataset) == 2
    for ex in trainer.train_dataset:
        trained = [i for i, lab in zip(ex["input_ids"], ex["labels"], strict=True) if lab != -100]
        assert len(ex["input_ids"]) <= max_length and tok.decode(trained[-1:]) == "<|im_end|>"
    assert "FINALREPLY" not in json.dumps(fitted[1]["messages"])  # cut, and reported above, never half a reply


# ---------------------------------------------------------------------------------------------- DPO, GRPO

def test_dpo_trains_on_preference_pairs(tiny: Path, tmp_path: Path, store: Store) -> None:
    from bashgym.train.run import train

    data = write_jsonl(tmp_path / "pairs.jsonl", [dpo_example(i) for i in range(8)])
    result = train(run_spec("dpo", tiny, data), store)
    losses = result.metrics["loss_history"]
    assert_finite_and_changed(losses)
    assert abs(losses[0][1] - math.log(2)) < 1e-3 and losses[-1][1] < losses[0][1]  # starts at ln 2, learns
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()


def agent_pair(i: int) -> dict[str, Any]:
    """A DPO pair whose completions run the same command and differ only in the tool's output (which the
    policy never writes)."""
    call = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "id": f"c{i}", "function": {
        "name": "bash", "arguments": json.dumps({"command": COMMANDS[i % 4]})}}]}
    return {"prompt": [{"role": "system", "content": "You are a coding agent."},
                       {"role": "user", "content": f"USERTEXT task {i}"}],
            "chosen": [call, {"role": "tool", "tool_call_id": f"c{i}", "name": "bash", "content": "TOOLOUTPUT good " * 5}],
            "rejected": [call, {"role": "tool", "tool_call_id": f"c{i}", "name": "bash", "content": "ERROR bad " * 9}],
            "tools": TOOLS}


def test_dpo_loss_counts_only_the_tokens_the_policy_generates(tiny: Path, tmp_path: Path, store: Store) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bashgym.train.config import build_lora_config, build_trl_config
    from bashgym.train.data import load_training_data
    from bashgym.train.dpo import make_trainer
    from bashgym.train.run import train

    data = write_jsonl(tmp_path / "pairs.jsonl", [agent_pair(i) for i in range(8)])
    spec = run_spec("dpo", tiny, data, max_steps=3)
    tok = AutoTokenizer.from_pretrained(tiny)
    trainer = make_trainer(spec, AutoModelForCausalLM.from_pretrained(tiny), tok,
                           build_trl_config(spec, tmp_path / "out", {"use_cpu": True}),
                           load_training_data(str(data), store, "dpo"), build_lora_config(spec), [])
    batch = trainer.data_collator([trainer.train_dataset[0]])
    for row, mask in zip(batch["input_ids"], batch["completion_mask"], strict=True):
        scored = tok.decode([t for t, m in zip(row.tolist(), mask.tolist(), strict=True) if m])
        assert scored == '<tool_call>\n{"name": "bash", "arguments": {"command": "ls -la"}}\n</tool_call><|im_end|>'

    # The pairs differ only after the assistant's tokens, so the policy cannot prefer either: the loss stays
    # ln 2 while the adapter trains (scoring the tool outputs, it fell away from ln 2 after the first step).
    losses = [v for _, v in train(spec, store).metrics["loss_history"]]
    assert len(losses) == 3 and all(abs(v - math.log(2)) < 1e-5 for v in losses)


def test_kto_scores_only_generated_tokens_in_matched_and_kl_completions(tiny: Path, tmp_path: Path,
                                                                      store: Store) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bashgym.train.config import build_lora_config, build_trl_config
    from bashgym.train.data import load_training_data
    from bashgym.train.kto import make_trainer
    from bashgym.train.run import train

    rows = []
    for i in range(8):
        pair = agent_pair(i)
        good = i % 2 == 0
        rows.append({"prompt": pair["prompt"], "completion": pair["chosen" if good else "rejected"], "label": good,
                     "tools": TOOLS})
    data = write_jsonl(tmp_path / "kto.jsonl", rows)
    spec = run_spec("kto", tiny, data, max_steps=2)
    tok = AutoTokenizer.from_pretrained(tiny)
    trainer = make_trainer(spec, AutoModelForCausalLM.from_pretrained(tiny), tok,
                           build_trl_config(spec, tmp_path / "out", {"use_cpu": True}),
                           load_training_data(str(data), store, "kto"), build_lora_config(spec), [])
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    for prefix in ("", "KL_"):
        for row, mask in zip(batch[f"{prefix}input_ids"], batch[f"{prefix}completion_mask"], strict=True):
            scored = tok.decode([t for t, m in zip(row.tolist(), mask.tolist(), strict=True) if m])
            assert scored.startswith("<tool_call>") and scored.endswith("</tool_call><|im_end|>")
            assert "TOOLOUTPUT" not in scored and "ERROR" not in scored
    result = train(spec, store)
    assert result.metrics["steps"] == 2 and all(math.isfinite(v) for _, v in result.metrics["loss_history"])


def test_grpo_trains_with_rewards_named_in_config(tiny: Path, sft_dir: Path, store: Store) -> None:
    from safetensors.torch import load_file

    from bashgym.train.run import train

    result = train(run_spec(
        "grpo", tiny, sft_dir, max_steps=2, num_generations=4, max_completion_length=8,
        reward_funcs=["bashgym.train.rewards_builtin:length_reward"],
    ), store)
    m = result.metrics
    assert len(m["reward_history"]) == 2 and all(math.isfinite(r) for _, r in m["reward_history"])
    assert all(math.isfinite(v) for _, v in m["loss_history"])
    weights = load_file(result.adapter_dir / "adapter_model.safetensors")
    lora_b = [t for k, t in weights.items() if "lora_B" in k]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: nonzero means it trained


def test_gym_episode_shows_each_command_output_before_the_next_and_scores_the_end(store: Store) -> None:
    from transformers.utils import get_json_schema

    from bashgym.gym.protocol import BASH_TOOL
    from bashgym.train.episodes import GymEpisode

    episode = GymEpisode()
    assert {"type": "function", "function": get_json_schema(episode.bash)["function"]} == BASH_TOOL  # eval's tool
    episode.reset(task_id="files-create-nested", suite="builtin", prompt=[])
    assert "a/b/c" in episode.bash("mkdir -p a/b/c && echo made a/b/c")
    assert episode.bash("echo hello > a/b/c/hello.txt && cat a/b/c/hello.txt").strip() == "hello"
    assert episode.get_reward() == 1.0
    episode.reset(task_id="files-create-nested", suite="builtin")
    assert "No such file" in episode.bash("cat a/b/c/hello.txt")  # a fresh sandbox per episode
    assert episode.get_reward() == 0.0
    with pytest.raises(NotFoundError, match="files-create-nested"):
        episode.reset(task_id="files-create-nestd")


def test_grpo_in_the_gym_prompts_exactly_as_eval_and_runs_episodes(tiny: Path, store: Store, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bashgym.eval.clients import LocalModelClient
    from bashgym.gym.protocol import SYSTEM_PROMPT
    from bashgym.train.config import build_lora_config, build_trl_config
    from bashgym.train.data import load_training_data
    from bashgym.train.grpo import make_trainer
    from bashgym.train.run import train

    spec = run_spec("grpo", tiny, "gym:builtin", max_steps=1, num_generations=4, per_device_train_batch_size=4,
                    max_completion_length=16, max_tool_calling_iterations=2)
    data = load_training_data("gym:builtin", store, "grpo")
    data.train = data.train.select(range(1))
    trainer = make_trainer(spec, AutoModelForCausalLM.from_pretrained(tiny), AutoTokenizer.from_pretrained(tiny),
                           build_trl_config(spec, tmp_path / "out", {"use_cpu": True}), data,
                           build_lora_config(spec), [])
    prompt = data.train[0]["prompt"]
    assert prompt[0] == {"role": "system", "content": SYSTEM_PROMPT}
    trainer._batch_environments = [None]
    grpo_ids = trainer._tokenize_prompts([prompt])[0][0]
    eval_ids = LocalModelClient(tiny, tool_mode="native").encode(prompt)["input_ids"][0].tolist()
    assert grpo_ids == eval_ids  # same system prompt, tool schema, template and generation prompt

    result = train(spec, store)  # one step of multi-turn episodes on the CPU
    assert [s for s, _ in result.metrics["reward_history"]] == [1]


def test_grpo_reward_name_errors_suggest_the_function(tiny: Path, sft_dir: Path, store: Store) -> None:
    from bashgym.train.grpo import load_reward

    with pytest.raises(ConfigError, match='did you mean "length_reward"'):
        load_reward("bashgym.train.rewards_builtin:lenght_reward")
    with pytest.raises(ConfigError, match="module:function"):
        spec_from_mapping({"reward_funcs": ["no_colon"]}, "grpo")


# ---------------------------------------------------------------------------------------------- config

def test_unknown_config_key_names_it_and_suggests_the_closest(tmp_path: Path) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_text("base_model: x\nlearning_rat: 1.0e-4\n")
    with pytest.raises(ConfigError) as err:
        load_spec(cfg, "sft")
    assert str(err.value) == f"""unknown key 'learning_rat' in {cfg} (did you mean "learning_rate"?)"""
    cfg.write_text("lora:\n  lora_alpah: 8\n")
    with pytest.raises(ConfigError, match=r"'lora_alpah' in .*\(lora\) \(did you mean \"lora_alpha\"\?\)"):
        load_spec(cfg, "sft")
    with pytest.raises(ConfigError, match='did you mean "beta"'):  # DPO keys are checked against DPOConfig
        spec_from_mapping({"betta": 0.1}, "dpo", "dpo.yaml")


def test_config_maps_yaml_onto_trl_and_lora(tmp_path: Path) -> None:
    from bashgym.train.config import build_lora_config, build_trl_config

    cfg = tmp_path / "train.yaml"
    cfg.write_text("base_model: m\ndataset: d\nlearning_rate: 2e-4\nmax_steps: '7'\npacking: true\n"
                   "lora: {r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}\n")
    spec = load_spec(cfg, "sft", {"max_steps": 9, "output_dir": None})
    args = build_trl_config(spec, tmp_path / "out", {"use_cpu": True})
    assert (args.learning_rate, args.max_steps, args.packing, args.assistant_only_loss) == (2e-4, 9, True, True)
    assert args.report_to in ([], "none", ["none"]) and args.use_cpu
    lora = build_lora_config(spec)
    assert (lora.r, lora.lora_alpha, set(lora.target_modules)) == (4, 8, {"q_proj", "v_proj"})
    with pytest.raises(ConfigError, match="gpu"):
        spec_from_mapping({"gpu": "tpu"}, "sft")


def test_multi_process_launch_needs_a_shared_output_dir(tiny: Path, sft_dir: Path, store: Store,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from bashgym.train.run import train

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ConfigError, match="needs an explicit --output-dir"):
        train(run_spec("sft", tiny, sft_dir), store)


def test_gym_suite_becomes_grpo_prompts_with_task_ids(store: Store) -> None:
    from bashgym.train.data import load_training_data

    data = load_training_data("gym:builtin", store, "grpo")
    assert {"prompt", "task_id"} <= set(data.train.column_names) and len(data.train) > 0
    assert data.train[0]["prompt"][-1]["role"] == "user"
    with pytest.raises(ConfigError, match="grpo"):
        load_training_data("gym:builtin", store, "sft")


# ---------------------------------------------------------------------------------------------- CLI

def test_cli_trains_from_a_factory_built_dataset_and_lists_and_shows_the_run(tiny: Path, store: Store,
                                                                            tmp_path: Path) -> None:
    from bashgym.factory.build import build_dataset
    from bashgym.factory.config import DatasetConfig
    from factory_sessions import save, session, topic_turn

    topics = ["nginx", "redis", "kafka", "mysql", "spark", "mongo", "etcd", "vault"]
    save(store, *[session(f"s{i}", [topic_turn(t, i)]) for i, t in enumerate(topics)])
    record = build_dataset(store, DatasetConfig(name="mywork", select={"tiers": ["unscored"]}))
    assert record["id"] == "ds-mywork-v1"
    dataset_sessions = store.dataset_session_ids("ds-mywork-v1")
    assert dataset_sessions
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"base_model: {tiny}\ndataset: ds-mywork-v1\ngpu: cpu\nper_device_train_batch_size: 4\n"
                   "lora: {r: 4}\n")
    runner = CliRunner()
    res = runner.invoke(app, ["train", "sft", "--config", str(cfg), "--max-steps", "2"])
    assert res.exit_code == 0, res.output
    assert "completed: 2 steps" in res.output and "adapter:" in res.output

    listed = json.loads(runner.invoke(app, ["runs", "list", "--json"]).output)
    assert len(listed) == 1 and listed[0]["dataset_id"] == "ds-mywork-v1" and listed[0]["status"] == "completed"
    run_id = listed[0]["id"]
    bare = runner.invoke(app, ["runs"])
    assert bare.exit_code == 0 and run_id in bare.output
    shown = json.loads(runner.invoke(app, ["runs", "show", run_id[:8], "--json"]).output)
    assert shown["session_ids"] == dataset_sessions
    assert shown["config"]["lora"]["r"] == 4 and shown["metrics"]["steps"] == 2
    text = runner.invoke(app, ["runs", "show", run_id]).output
    assert f"sessions: {len(dataset_sessions)}" in text and "loss" in text
    assert "tools: Bash" in text  # a native dataset: the run says it learned Claude Code's tool, not the gym's

    res = runner.invoke(app, ["adapter", "export", run_id, "--out", str(tmp_path / "exp")])
    assert res.exit_code == 0 and (tmp_path / "exp" / "adapter_model.safetensors").is_file()


def test_cli_config_error_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_text("base_model: x\nnum_train_epoch: 3\n")
    res = CliRunner().invoke(app, ["train", "sft", "--config", str(cfg)])
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    assert "num_train_epoch" in str(res.exception) and 'did you mean "num_train_epochs"' in str(res.exception)


def test_model_tiny_command_writes_a_loadable_model(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["model", "tiny", str(tmp_path / "tiny")])
    assert res.exit_code == 0, res.output
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in (tmp_path / "tiny").iterdir()}


def test_bare_adapter_group_lists_runs_that_saved_an_adapter(store: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    assert "no adapters yet" in runner.invoke(app, ["adapter"]).stdout
    for run_id, metrics in (("sft-a", {"adapter_dir": str(tmp_path / "a"), "export_dir": str(tmp_path / "x")}),
                            ("sft-broken", {"error": "out of memory"})):
        store.create_run(run_id, "sft", dataset_id=None, base_model="tiny", config={}, output_dir=str(tmp_path))
        store.update_run(run_id, status="completed", metrics=metrics)
    bare = runner.invoke(app, ["adapter"])
    assert bare.exit_code == 0 and "sft-a" in bare.stdout and "sft-broken" not in bare.stdout
    listed = json.loads(runner.invoke(app, ["adapter", "list", "--json"]).stdout)
    assert [(a["run"], a["adapter_dir"], a["merged_dir"], a["export_dir"]) for a in listed] == [
        ("sft-a", str(tmp_path / "a"), None, str(tmp_path / "x"))]
