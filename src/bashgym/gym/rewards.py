"""Reward functions shaped `(completions, **kwargs) -> list[float | None]`, so TRL's GRPOTrainer takes
them unchanged (train configs name them as "bashgym.gym.rewards:bash_task_reward").

`bash_task_reward` runs the command(s) of each completion in a fresh `bashgym/BashTask-v1` episode of the
task named by the dataset's `task_id` column, submits, and returns the task tests' reward. A sandbox or
verifier failure returns None (TRL treats it as "no reward" for that sample), never 0.

Commands are read from, in order: OpenAI-style `tool_calls` of conversational completions,
`<tool_call>{"name": "bash", "arguments": {"command": ...}}</tool_call>` tags, then ```bash blocks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bashgym.gym.protocol import (
    FENCED_SYSTEM_PROMPT,
    SUBMIT,
    SYSTEM_PROMPT,
    ToolCall,
    fenced_blocks,
    infra_failure,
    tagged_tool_calls,
)
from bashgym.gym.protocol import make_env as protocol_make_env

MAX_COMMANDS = 16
SUITE_COLUMN = "suite"
TASK_COLUMNS = ("task_id", "task")


def completion_commands(completion: Any) -> list[str]:
    """Shell commands a completion asks to run (plain text or a list of chat messages).

    >>> completion_commands('<tool_call>{"name": "bash", "arguments": {"command": "ls"}}</tool_call>')
    ['ls']
    >>> completion_commands([{"role": "assistant", "content": "```bash\\necho hi\\n```"}])
    ['echo hi']
    """

    if isinstance(completion, list):
        commands: list[str] = []
        for message in completion:
            if not isinstance(message, dict) or message.get("role", "assistant") != "assistant":
                continue
            calls = message.get("tool_calls") or []
            for call in calls:
                fn = call.get("function", call)
                args = fn.get("arguments")
                command = ToolCall(fn.get("name") or "", args if isinstance(args, str) else _json(args)).command()
                if fn.get("name") in ("bash", None) and command:
                    commands.append(command)
            if not calls:
                commands += completion_commands(message.get("content") or "")
        return commands
    text = completion if isinstance(completion, str) else str(completion or "")
    calls = [c.command() for c in tagged_tool_calls(text) if c.name == "bash"]
    if calls:
        return [c for c in calls if c]
    return fenced_blocks(text)


def _json(value: Any) -> str:
    import json

    return json.dumps(value or {})


@functools.lru_cache(maxsize=8)
def _suite(name: str) -> dict[str, Any]:
    from bashgym.gym.task import load_suite

    return {t.id: t for t in load_suite(name)}


def _column(kwargs: dict[str, Any], names: Sequence[str], n: int) -> list[Any] | None:
    for name in names:
        value = kwargs.get(name)
        if value is not None:
            return list(value) if isinstance(value, list | tuple) else [value] * n
    return None


def score_commands(task: Any, commands: Sequence[str], *, make_env: Callable[[Any], Any] | None = None) -> float | None:
    """Run `commands` in a fresh episode of `task`, submit, and return the tests' reward (None = no score)."""
    try:
        env = (make_env or protocol_make_env)(task)
    except Exception:  # noqa: BLE001 - the sandbox could not start: no score
        return None
    try:
        env.reset()
        reward, info = 0.0, {}
        done = False
        for command in list(commands)[:MAX_COMMANDS]:
            _obs, reward, terminated, truncated, info = env.step(command)
            if infra_failure(info):
                return None
            if terminated or truncated:
                done = True
                break
        if not done:
            _obs, reward, _t, _tr, info = env.step(SUBMIT)
        if infra_failure(info):
            return None
        return float(reward)
    except Exception:  # noqa: BLE001 - a crashed sandbox or verifier is no score, never 0
        return None
    finally:
        try:
            env.close()
        except Exception:  # noqa: BLE001
            pass


def bash_task_reward(completions: list[Any], **kwargs: Any) -> list[float | None]:
    """GRPO reward: the task tests' verdict after running each completion's commands in the gym.

    Needs a `task_id` (or `task`) column; an optional `suite` column names the suite (default builtin).
    """
    n = len(completions)
    task_ids = _column(kwargs, TASK_COLUMNS, n)
    if task_ids is None:
        from bashgym.errors import ConfigError

        raise ConfigError("bash_task_reward needs a 'task_id' column in the dataset (the gym task to run)")
    suites = _column(kwargs, (SUITE_COLUMN,), n) or ["builtin"] * n

    def one(i: int) -> float | None:
        tasks = _suite(str(suites[i]))
        task = tasks.get(str(task_ids[i]))
        if task is None:
            from bashgym.errors import NotFoundError, did_you_mean

            raise NotFoundError(f"no task {task_ids[i]!r} in suite {suites[i]!r}{did_you_mean(str(task_ids[i]), tasks)}")
        return score_commands(task, completion_commands(completions[i]))

    with ThreadPoolExecutor(max_workers=min(4, max(1, n))) as pool:
        return list(pool.map(one, range(n)))


def bash_format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """Shaped reward: 1.0 when a completion holds at least one runnable bash command, else 0.0.

    Cheap (no sandbox); useful early in GRPO when the task reward is all zeros.
    """
    return [1.0 if completion_commands(c) else 0.0 for c in completions]


def task_prompt_rows(suite: str = "builtin", *, fenced: bool = False) -> list[dict[str, Any]]:
    """A GRPO prompt dataset for the gym: one row per task with `prompt` (system + instruction messages),
    `task_id` and `suite` columns, the columns `bash_task_reward` reads back.

    >>> rows = task_prompt_rows()                                  # doctest: +SKIP
    >>> Dataset.from_list(rows)  # GRPOTrainer(train_dataset=..., reward_funcs=[bash_task_reward])  # doctest: +SKIP
    """
    system = FENCED_SYSTEM_PROMPT if fenced else SYSTEM_PROMPT
    return [
        {"prompt": [{"role": "system", "content": system}, {"role": "user", "content": t.instruction}],
         "task_id": t.id, "suite": str(suite), "category": t.category}
        for t in _suite(str(suite)).values()
    ]
