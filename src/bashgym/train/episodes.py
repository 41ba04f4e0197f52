"""Multi-turn GRPO in the gym: TRL's `environment_factory` drives one `GymEpisode` per rollout.

The model sees the same conversation as in `bashgym eval`: the gym's system prompt and instruction (the
`gym:<suite>` prompts), the one `bash` tool (its schema is `protocol.BASH_TOOL`, read by TRL from
`GymEpisode.bash`), each command run in the task's sandbox and its output given back as the tool's result
before the model writes its next call. When the model stops calling the tool (or TRL's
`max_tool_calling_iterations` runs out) the episode is submitted and the task's tests give the reward.
"""

from __future__ import annotations

import math
from typing import Any

from bashgym.errors import NotFoundError, did_you_mean
from bashgym.gym.protocol import SUBMIT, infra_failure
from bashgym.gym.protocol import make_env as protocol_make_env


class GymEpisode:
    """One episode of a gym task, shaped for TRL: `reset(**row)`, the `bash` tool, `get_reward()`."""

    def __init__(self) -> None:
        self._env: Any = None
        self._obs: Any = None
        self._reward: float | None = None
        self._done = False

    def reset(self, task_id: str | None = None, suite: str = "builtin", **_: Any) -> None:
        """Start a fresh sandbox for the row's task (the instruction is already the prompt's user message)."""
        from bashgym.gym.rewards import _suite

        self._close()
        tasks = _suite(str(suite))
        if task_id not in tasks:
            raise NotFoundError(f"no task {task_id!r} in gym suite {suite!r}{did_you_mean(str(task_id), tasks)}")
        self._env = protocol_make_env(tasks[task_id])
        self._obs, _info = self._env.reset()
        self._reward, self._done = None, False
        return None

    def bash(self, command: str):  # no return hint: it would add "return" to the tool schema the model sees
        """Run one shell command in the task's workspace and return its output and exit code.

        Args:
            command: The shell command to run.
        """
        from bashgym.eval.agent import clip_output, step_output

        if self._done or self._env is None:
            return "error: the episode has ended; reply without a tool call"
        previous = self._obs
        self._obs, reward, terminated, truncated, info = self._env.step(command)
        if infra_failure(info):
            self._finish(None)
            return "error: the sandbox failed"
        output, _exit_code = step_output(self._env, previous, self._obs, info)
        if terminated or truncated:
            self._finish(reward)
        return clip_output(output)

    def get_reward(self) -> float | None:
        """Submit (unless the episode already ended) and return the task tests' reward; None when the sandbox
        or verifier failed, so the rollout is not scored rather than scored 0."""
        if not self._done and self._env is not None:
            try:
                _obs, reward, _terminated, _truncated, info = self._env.step(SUBMIT)
                self._finish(None if infra_failure(info) else reward)
            except Exception:  # noqa: BLE001 - a crashed verifier is no score, never 0
                self._finish(None)
        self._close()
        return self._reward

    def _finish(self, reward: float | None) -> None:
        self._done = True
        self._reward = None if reward is None or (isinstance(reward, float) and math.isnan(reward)) else float(reward)

    def _close(self) -> None:
        if self._env is not None:
            try:
                self._env.close()
            finally:
                self._env = None
