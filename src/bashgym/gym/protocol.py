"""What a policy and the gym say to each other: the one module both `eval/` and `train/` speak through.

- Prompts: `SYSTEM_PROMPT` (native tool calls) and `FENCED_SYSTEM_PROMPT` (```bash blocks).
- Tool calls: the `bash` tool (`BASH_TOOL`), `ToolCall`, and the parsers for tool calls written as text
  (`tagged_tool_calls` for `<tool_call>{...}</tool_call>`, `fenced_bash` / `fenced_blocks` for ```bash).
- Ending an episode: the `SUBMIT` action.
- Long command output: `cut_middle` and its `OUTPUT_CUT` marker (training rows and the gym cut alike).
- Failures that are not the policy's: `InfraError`, and `infra_failure(info)` reading the env's report.
- Env construction: `ENV_ID` and `make_env(task)`.

`eval/` depends on this module (and so on `gym/`); nothing in `gym/` imports `eval/`. The module is light
(standard library only at import time), so a reward function or a client can import it cheaply.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from bashgym.errors import BashgymError

ENV_ID = "bashgym/BashTask-v1"
SUBMIT = "submit"  # the action that ends an episode; the task's tests then decide the reward

SYSTEM_PROMPT = (
    "You are an expert shell user working in a Linux sandbox. Your current directory is the task's "
    "workspace. Solve the task by running commands with the `bash` tool, one command per call; you will "
    "see each command's output. When the task is complete, reply with a short summary and no tool call."
)
FENCED_SYSTEM_PROMPT = (
    "You are an expert shell user working in a Linux sandbox. Your current directory is the task's "
    "workspace. To run a command, reply with exactly one fenced code block:\n```bash\n<command>\n```\n"
    "You will see its output. When the task is complete, reply with a short summary and no code block."
)

BASH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run one shell command in the task's workspace and return its output and exit code.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string", "description": "The shell command to run."}},
            "required": ["command"],
        },
    },
}


class InfraError(BashgymError):
    """The endpoint, model or sandbox failed (not the agent): the rollout gets no score and is retried."""


@dataclass(slots=True)
class ToolCall:
    """One function call of a reply; `arguments` is the JSON string the model produced."""

    name: str
    arguments: str
    id: str = field(default_factory=lambda: "call_" + uuid.uuid4().hex[:12])

    def command(self) -> str | None:
        """The `command` argument of a bash call, or None when the arguments are not usable."""
        try:
            args = json.loads(self.arguments) if isinstance(self.arguments, str) else self.arguments
        except json.JSONDecodeError:
            return None
        if isinstance(args, dict):
            value = args.get("command", args.get("cmd"))
            return value if isinstance(value, str) else None
        return None


# How a long command output is cut, the same in training rows (factory/shape.py) and in the gym (sandbox.py):
# the model must meet at inference the marker it was trained on.
OUTPUT_CUT = "\n[... {n} characters of output cut ...]\n"


def cut_middle(text: str, limit: int, head_fraction: float = 0.5, *, already_cut: int = 0) -> str:
    """`text` kept to about `limit` characters: its head and tail, with `OUTPUT_CUT` saying how much went from
    the middle (`already_cut`: characters dropped before `text` was assembled, as the sandbox's capture does).

    >>> cut_middle("a" * 10 + "b" * 10, 10)
    'aaaaa\\n[... 10 characters of output cut ...]\\nbbbbb'
    """
    if limit <= 0 or (len(text) <= limit and not already_cut):
        return text
    head = min(int(limit * head_fraction), len(text))
    tail = min(limit - head, len(text) - head)
    cut = len(text) - head - tail + already_cut
    return text[:head] + OUTPUT_CUT.format(n=cut) + (text[-tail:] if tail else "")


_FENCE = re.compile(r"```(?:bash|sh|shell|console)?[ \t]*\n(.*?)```", re.DOTALL)
TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def fenced_bash(text: str) -> str | None:
    """The first fenced ```bash (or ```sh / bare ```) block of a reply, stripped; None when there is none.

    >>> fenced_bash("Let me look.\\n```bash\\nls -la\\n```")
    'ls -la'
    """
    for match in _FENCE.finditer(text or ""):
        body = match.group(1).strip()
        if body:
            return body
    return None


def fenced_blocks(text: str) -> list[str]:
    """Every non-empty fenced ```bash / ```sh / bare ``` block of a text, stripped, in order."""
    return [m.group(1).strip() for m in _FENCE.finditer(text or "") if m.group(1).strip()]


def tagged_tool_calls(text: str) -> list[ToolCall]:
    """Tool calls written inline as `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (Qwen/Hermes).

    >>> [c.command() for c in tagged_tool_calls('<tool_call>{"name": "bash", "arguments": {"command": "pwd"}}</tool_call>')]
    ['pwd']
    """
    calls = []
    for match in TOOL_CALL_TAG.finditer(text or ""):
        try:
            data = json.loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            continue
        args = data.get("arguments", data.get("parameters", {}))
        calls.append(ToolCall(name=data["name"], arguments=args if isinstance(args, str) else json.dumps(args)))
    return calls


def infra_failure(info: dict[str, Any]) -> str | None:
    """The env's report that the sandbox or verifier itself failed (then the rollout gets no score)."""
    if info.get("infra_error"):
        return str(info["infra_error"])
    if info.get("status") in ("error", "infra_error", "no_score"):
        return str(info.get("reason") or info.get("error") or info.get("status"))
    return None


def make_env(task: Any) -> Any:
    """A fresh `bashgym/BashTask-v1` env for a task (a Task, a builtin task id or a task directory)."""
    from bashgym.errors import require

    require("gymnasium", "gym")
    import gymnasium

    from bashgym.gym import register_envs

    register_envs()
    return gymnasium.make(ENV_ID, task=task)
