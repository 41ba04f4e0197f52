"""A GRPO reward that writes down which dataset rows each process scored at each step: the data order of
a run, read from inside the trainer (tests/test_train_launch.py). The log file is $BASHGYM_TEST_BATCH_LOG."""

from __future__ import annotations

import json
import os
from typing import Any

from bashgym.train.rewards_builtin import length_reward


def logged_length_reward(completions: list[Any], idx: list[int], trainer_state: Any = None,
                         **kwargs: Any) -> list[float]:
    """length_reward, after appending {rank, step, idx} to the log (one line per call, O_APPEND)."""
    record = {"rank": int(os.environ.get("RANK", "0")), "step": trainer_state.global_step if trainer_state else None,
              "idx": list(idx)}
    with open(os.environ["BASHGYM_TEST_BATCH_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    return length_reward(completions)
