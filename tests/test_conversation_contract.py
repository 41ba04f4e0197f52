"""One conversation contract (docs/training.md): a session made into a bash dataset is trained (SFT, DPO,
KTO) on exactly the prompt that GRPO's gym episodes and `bashgym eval` show the model: the same system
prompt, tool schema, chat template and generation prompt, token for token."""

from __future__ import annotations

from pathlib import Path

import pytest

from bashgym.store import Store
from factory_sessions import save, say, session
from harness.tiny_model import tiny_model_dir

pytest.importorskip("trl")


def test_one_session_renders_the_same_prompt_for_sft_dpo_kto_grpo_and_eval(store: Store, tmp_path: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bashgym.eval.clients import LocalModelClient
    from bashgym.factory.build import BuildSpec, build_pipeline
    from bashgym.factory.config import DatasetConfig
    from bashgym.factory.formats import SFT_FORMATTERS, prompt_and_completion, tools_of
    from bashgym.factory.select import read_sessions
    from bashgym.gym.protocol import BASH_TOOL, SYSTEM_PROMPT
    from bashgym.gym.rewards import task_prompt_rows
    from bashgym.schema import Step
    from bashgym.train.config import build_lora_config, build_trl_config, spec_from_mapping
    from bashgym.train.data import TrainingData
    from bashgym.train.grpo import make_trainer

    tiny = tiny_model_dir()
    tok = AutoTokenizer.from_pretrained(tiny)
    [gym_row] = [r for r in task_prompt_rows("practice") if r["task_id"] == "practice-count-lines"]
    instruction = gym_row["prompt"][-1]["content"]

    # A Claude Code session on that task, made into a bash dataset (native Read -> cat -n, Bash -> bash).
    read = Step(kind="tool_call", tool_name="Read", input={"file_path": "notes.txt"}, output="1\tone\n2\ttwo")
    run = Step(kind="tool_call", tool_name="Bash", input={"command": "wc -l notes.txt"}, output="2 notes.txt")
    save(store, session("s1", [(instruction, [say("Let me look."), read, run, say("notes.txt has 2 lines.")])]))
    cfg = DatasetConfig(name="contract", shape={"tools": "bash"}, decontaminate={"enabled": False})
    [ex] = list(build_pipeline(BuildSpec(store.location, cfg.model_dump(), None)).run(read_sessions(store)))
    row = SFT_FORMATTERS["messages"](ex, cfg.shape)
    assert row["tools"] == [BASH_TOOL] and row["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool",
                                                    "assistant"]  # each call's result before the next call

    # eval: the local model client's prompt for the task
    eval_ids = LocalModelClient(tiny, tool_mode="native").encode(gym_row["prompt"])["input_ids"][0].tolist()
    # SFT: the trained conversation starts with exactly that prompt
    sft_ids = tok.apply_chat_template(row["messages"], tools=row["tools"], tokenize=True, return_dict=True)["input_ids"]
    assert sft_ids[:len(eval_ids)] == eval_ids
    # DPO and KTO: their prompt column, rendered as TRL renders it (with the generation prompt)
    prompt, completion = prompt_and_completion(ex, cfg.shape)
    pref_ids = tok.apply_chat_template(prompt, tools=tools_of(ex), add_generation_prompt=True, tokenize=True,
                                       return_dict=True)["input_ids"]
    assert pref_ids == eval_ids and completion[0]["role"] == "assistant"
    # GRPO in the gym: TRL's own prompt rendering with the episode's tools
    spec = spec_from_mapping({"base_model": str(tiny), "dataset": "gym:practice", "gpu": "cpu",
                              "num_generations": 2, "per_device_train_batch_size": 2}, "grpo", "test")
    trainer = make_trainer(spec, AutoModelForCausalLM.from_pretrained(tiny), AutoTokenizer.from_pretrained(tiny),
                           build_trl_config(spec, tmp_path / "out", {"use_cpu": True}),
                           TrainingData(train=Dataset.from_list([gym_row]), eval=None, dataset_id=None,
                                        location="gym:practice"), build_lora_config(spec), [])
    trainer._batch_environments = [None]  # what TRL sets per batch before rendering prompts
    assert trainer._tokenize_prompts([gym_row["prompt"]])[0][0] == eval_ids


def test_a_long_output_is_cut_the_same_way_in_training_rows_and_in_the_gym() -> None:
    """The model must meet at inference the cut marker it was trained on: the factory's shaping of a long tool
    output and the gym sandbox's capture of a long command output state the cut with one marker, exactly."""
    import re

    from bashgym.factory.shape import truncate_middle
    from bashgym.gym.protocol import OUTPUT_CUT
    from bashgym.gym.sandbox import Limits, Sandbox

    marker = re.compile(re.escape(OUTPUT_CUT).replace(re.escape("{n}"), r"(\d+)"))
    output = "".join(f"{i}\n" for i in range(1, 20001))  # what `seq 1 20000` prints: 108,894 characters
    with Sandbox(limits=Limits(max_output_chars=1000)) as box:
        gym = box.run("seq 1 20000").output
    row = truncate_middle(output, 1000)
    assert row == gym  # same head, same marker, same count, same tail
    (cut,) = marker.findall(row)
    assert int(cut) == len(output) - 1000 and row.startswith("1\n2\n") and row.endswith("19999\n20000\n")
