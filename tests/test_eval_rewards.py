"""GRPO reward functions run completions' commands in the real gym (sandbox + task tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bashgym.errors import ConfigError, NotFoundError
from bashgym.gym.rewards import bash_format_reward, bash_task_reward, completion_commands, task_prompt_rows


@pytest.fixture()
def suite(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    task = root / "write-hello"
    (task / "tests").mkdir(parents=True)
    (task / "task.yaml").write_text(
        "id: write-hello\ncategory: files\ninstruction: write hello into hello.txt\nmax_steps: 5\n"
    )
    (task / "tests" / "test.sh").write_text('#!/bin/bash\ntest "$(cat hello.txt)" = hello\n')
    # A Harbor task whose verifier never writes its reward file: the verifier failed, so no score.
    broken = root / "broken-verifier"
    (broken / "tests").mkdir(parents=True)
    (broken / "instruction.md").write_text("anything\n")
    (broken / "tests" / "test.sh").write_text("#!/bin/bash\nexit 0\n")
    return root


def tool_call_text(command: str) -> str:
    return '<tool_call>\n{"name": "bash", "arguments": ' + json.dumps({"command": command}) + "}\n</tool_call>"


def test_completion_commands_reads_tool_calls_tags_and_fenced_blocks() -> None:
    conversational = [{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}}]}]
    assert completion_commands(conversational) == ["ls"]
    assert completion_commands(tool_call_text("cat a") + tool_call_text("cat b")) == ["cat a", "cat b"]
    assert completion_commands("```bash\npwd\n```\nand\n```sh\nid\n```") == ["pwd", "id"]
    assert completion_commands("I would run ls.") == []


def test_bash_task_reward_scores_each_completion_with_the_task_tests(suite: Path) -> None:
    completions = [
        tool_call_text("echo hello > hello.txt"),
        [{"role": "assistant", "content": "```bash\nprintf 'hello\\n' > hello.txt\n```"}],
        tool_call_text("echo goodbye > hello.txt"),
        "no command at all",
    ]
    n = len(completions)
    rewards = bash_task_reward(completions, task_id=["write-hello"] * n, suite=[str(suite)] * n,
                               prompts=["p"] * n)
    assert rewards == [1.0, 1.0, 0.0, 0.0]


def test_a_failed_verifier_is_no_score_not_zero(suite: Path) -> None:
    rewards = bash_task_reward([tool_call_text("true")], task_id=["broken-verifier"], suite=[str(suite)])
    assert rewards == [None]


def test_bash_task_reward_names_missing_columns_and_tasks(suite: Path) -> None:
    with pytest.raises(ConfigError, match="task_id"):
        bash_task_reward(["x"], prompts=["p"])
    with pytest.raises(NotFoundError, match='did you mean "write-hello"'):
        bash_task_reward(["x"], task_id=["write-helo"], suite=[str(suite)])


def test_bash_format_reward_is_a_cheap_shaped_signal() -> None:
    assert bash_format_reward([tool_call_text("ls"), "nothing"]) == [1.0, 0.0]


def test_task_prompt_rows_feed_back_into_the_reward(suite: Path) -> None:
    rows = [r for r in task_prompt_rows(str(suite)) if r["task_id"] == "write-hello"]
    assert rows[0]["prompt"][1] == {"role": "user", "content": "write hello into hello.txt"}
    columns = {key: [r[key] for r in rows] for key in ("task_id", "suite")}
    assert bash_task_reward([tool_call_text("echo hello > hello.txt")], **columns) == [1.0]
