"""Reinforcement learning from rewards: TRL's GRPOTrainer + a PEFT LoRA.

Rewards are named in the config as "module:function" (TRL-shaped `(completions, **kwargs) -> list[float]`):
the gym's task rewards (`bashgym.gym.rewards:...`) or any plain Python function. Extra dataset columns
(task ids, expected output) reach the reward functions as keyword arguments.

`dataset: gym:<suite>` runs each completion as a multi-turn episode in the gym (`train/episodes.py`): the
model calls the `bash` tool, sees each command's output before its next call, and the task's tests give the
reward when it stops, in the same conversation `bashgym eval` holds with it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from bashgym.errors import ConfigError, MissingDependencyError, did_you_mean
from bashgym.train.config import TrainSpec
from bashgym.train.data import TrainingData

DEFAULT_REWARDS = ["bashgym.train.rewards_builtin:tool_call_format_reward"]
# `dataset: gym:<suite>`: the episode's own reward (the task tests' verdict, from GymEpisode.get_reward), plus a
# dense format reward so early steps have signal.
GYM_REWARDS = ["bashgym.gym.rewards:bash_format_reward"]


def load_reward(name: str) -> Callable[..., list[float]]:
    """Import "module:function"; errors name what was missing."""
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"reward function {name!r}: cannot import module {module_name!r} ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise ConfigError(f"reward function {name!r}: {module_name} has no function {attr!r}{did_you_mean(attr, public)}")
    return fn


def check_vllm(args: Any) -> None:
    """`use_vllm` (`--vllm-server`) needs vLLM installed beside TRL even in server mode (TRL talks to the
    server and syncs weights with vLLM's client): say so before a run is recorded, not deep in TRL's setup."""
    if getattr(args, "use_vllm", False) and importlib.util.find_spec("vllm") is None:
        where = f"server {args.vllm_server_base_url}" if args.vllm_server_base_url else f"{args.vllm_mode} mode"
        raise MissingDependencyError(
            f"use_vllm ({where}) needs the vllm package in the training environment: "
            'pip install "trl[vllm]" (the vLLM versions TRL supports)')


def make_trainer(
    spec: TrainSpec, model: Any, tokenizer: Any, args: Any, data: TrainingData, peft_config: Any,
    callbacks: list[Any],
) -> Any:
    from trl import GRPOTrainer

    in_gym = str(spec.dataset).startswith("gym:")
    rewards = [load_reward(name) for name in (spec.reward_funcs or (GYM_REWARDS if in_gym else DEFAULT_REWARDS))]
    if tokenizer.padding_side != "left":
        tokenizer.padding_side = "left"  # generation pads on the left
    extra: dict[str, Any] = {}
    if in_gym:
        from bashgym.train.episodes import GymEpisode

        extra["environment_factory"] = GymEpisode
    try:
        return GRPOTrainer(
            model=model, reward_funcs=rewards, args=args, train_dataset=data.train, eval_dataset=data.eval,
            processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks, **extra,
        )
    except ValueError as exc:
        if in_gym and "tool" in str(exc).lower():
            raise ConfigError(f"GRPO in the gym calls the `bash` tool, and {spec.base_model} cannot: {exc}") from None
        raise
