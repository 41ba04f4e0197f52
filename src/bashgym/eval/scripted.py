"""A scripted agent: runs a given command for each task, then says it is done.

It stands in for a user's stronger agent (the demo's "expert"): driven by reference solutions — and, for a
share of tasks, by a plausible wrong command, as a hurried agent would — its rollouts are stored as sessions
exactly like any model's, so the judge, the factory and training see them as they would see a user's.
"""

from __future__ import annotations

import json
from typing import Any

from bashgym.eval.clients import Reply
from bashgym.gym.protocol import ToolCall

DONE = "Done."


class ScriptedClient:
    """`commands` maps a task's instruction to the shell command the agent runs for it (one bash call),
    after which it replies `DONE` without a tool call, which submits the episode."""

    tool_mode = "native"

    def __init__(self, commands: dict[str, str], *, model: str = "scripted-expert") -> None:
        self.commands = dict(commands)
        self.model = model

    def close(self) -> None:
        pass

    def chat(self, messages: list[dict[str, Any]], *, seed: int | None = None) -> Reply:
        if any(m.get("role") == "tool" for m in messages):
            return Reply(text=DONE, completion_tokens=1, finish_reason="stop")
        instruction = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
        command = self.commands.get(instruction)
        if command is None:
            return Reply(text="I do not know this task.", completion_tokens=1, finish_reason="stop")
        call = ToolCall(name="bash", arguments=json.dumps({"command": command}))
        return Reply(tool_calls=[call], completion_tokens=1, finish_reason="tool_calls")
