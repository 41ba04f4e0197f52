"""Small built-in GRPO rewards, TRL-shaped `(completions, **kwargs) -> list[float]`.

They need no gym, so GRPO can be smoke-tested anywhere; the real task rewards live in
`bashgym.gym.rewards`. Name them in train.yaml as `bashgym.train.rewards_builtin:length_reward`.
"""

from __future__ import annotations

import json
import re
from typing import Any

TOOL_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.S)


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the content of a list of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    return str(completion)


def length_reward(completions: list[Any], target: int = 40, **kwargs: Any) -> list[float]:
    """1.0 at `target` characters, falling off linearly: a dense, always-varying signal.

    >>> length_reward(["x" * 40, "x" * 20])
    [1.0, 0.5]
    """
    return [max(0.0, 1.0 - abs(len(completion_text(c)) - target) / target) for c in completions]


def tool_call_format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """1.0 for a well-formed `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, 0.5 for the tags
    around bad JSON, 0.0 otherwise.

    >>> tool_call_format_reward(['<tool_call>{"name": "bash", "arguments": {"command": "ls"}}</tool_call>'])
    [1.0]
    """
    scores = []
    for c in completions:
        text = completion_text(c)
        match = TOOL_CALL.search(text)
        if not match:
            scores.append(0.0)
            continue
        try:
            call = json.loads(match.group(1))
            ok = isinstance(call, dict) and isinstance(call.get("name"), str) and isinstance(call.get("arguments"), dict)
        except json.JSONDecodeError:
            ok = False
        scores.append(1.0 if ok else 0.5)
    return scores
