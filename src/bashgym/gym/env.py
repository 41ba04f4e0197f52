"""`bashgym/BashTask-v1`: a Gymnasium environment where each action is one shell command.

- Observation (Text): the task instruction, then the terminal transcript so far (`$ command`, its output,
  `[exit code N]` when non-zero). Long transcripts keep the instruction and the most recent output.
- Action (Text): one shell command, run in the episode's persistent bash shell inside a fresh sandbox
  (see `bashgym.gym.sandbox`); ``submit`` (the `SUBMIT` constant) ends the episode.
- Reward: the task's tests decide when the episode ends: 1.0 pass, 0.0 fail (Harbor tasks: the number their
  test wrote). If the verifier could not score (infrastructure failure, retried first), the reward is NaN
  and ``info["status"] == "no_score"`` — never a 0 that would teach the policy something false (TRL's GRPO
  ignores NaN rewards). Optional shaped rewards, off by default: ``step_penalty`` is subtracted on every
  command, ``error_penalty`` on every command with a non-zero exit code.
- terminated: a submit action, or success when ``verify_every_step=True`` (the tests run after each
  command; as always they run only once every process of the agent is killed, so the shell restarts after
  each check in the same directory, its variables lost). truncated: the task's ``max_steps`` or ``timeout_s`` (wall clock) ran out; the tests still run
  and give the final reward.
- info: ``task_id``, ``step``, ``exit_code``, ``timed_out``, ``limit`` (which sandbox limit stopped the
  command), ``limits_hit`` (every limit hit so far in the episode, the verifier's included, and
  ``wall_time`` when the episode's time ran out), ``layer``
  (sandbox layer); at the end also ``status`` (pass | fail | no_score), ``reward``
  (None for no_score) and ``reason``. The full `CommandResult` and `Verdict` objects are on
  ``env.unwrapped.last_result`` / ``last_verdict`` (they hold timings, which info must not, to stay
  deterministic).

    >>> import gymnasium, bashgym.gym                               # doctest: +SKIP
    >>> env = gymnasium.make("bashgym/BashTask-v1", task="files-create-nested")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step("mkdir -p a/b/c && echo hello > a/b/c/hello.txt")
    >>> obs, reward, terminated, truncated, info = env.step("submit")   # reward == 1.0
"""

from __future__ import annotations

import math
import re
import string
import time
from pathlib import Path
from typing import Any

import gymnasium
from gymnasium import spaces

from bashgym.errors import ConfigError
from bashgym.gym.protocol import SUBMIT
from bashgym.gym.sandbox import CommandResult, Limits, Sandbox
from bashgym.gym.task import Task, load_task
from bashgym.gym.verifier import NO_SCORE, Verdict, prepare, task_limits, verify

MAX_ACTION_CHARS = 4096
ACTION_CHARSET = string.printable
# Observations keep any character of the Basic Multilingual Plane except control characters and
# surrogates; anything else (other controls, emoji) is shown as U+FFFD.
OBS_CHARSET = "\t\n" + "".join(chr(c) for c in range(0x20, 0x7F)) + "".join(
    chr(c) for c in range(0xA0, 0xFFFE) if not 0xD800 <= c <= 0xDFFF)
_OUTSIDE_OBS = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]")


def sanitize(text: str) -> str:
    """Make `text` an element of the observation space (CR becomes LF, other odd characters U+FFFD)."""
    return _OUTSIDE_OBS.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


class BashTaskEnv(gymnasium.Env[str, str]):
    """One task, one sandbox per episode. See the module docstring for spaces, reward and info."""

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(self, task: Task | str | Path | None = None, *, limits: Limits | None = None,
                 layer: str | None = None, max_steps: int | None = None, time_limit_s: float | None = None,
                 command_timeout_s: float | None = None, verify_every_step: bool = False,
                 step_penalty: float = 0.0, error_penalty: float = 0.0, max_obs_chars: int = 32_000,
                 verifier_retries: int = 2, render_mode: str | None = None) -> None:
        if task is None:
            raise ConfigError("BashTaskEnv needs task=: a Task, a builtin task id or a task directory "
                              "(`bashgym gym list` shows the builtin ids)")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.task = task if isinstance(task, Task) else load_task(task)
        self.limits = limits or Limits()
        self.layer = layer
        self.max_steps = max_steps or self.task.max_steps
        self.time_limit_s = time_limit_s or self.task.timeout_s
        self.command_timeout_s = command_timeout_s or self.limits.command_timeout_s
        self.verify_every_step = verify_every_step
        self.step_penalty = step_penalty
        self.error_penalty = error_penalty
        self.max_obs_chars = max_obs_chars
        self.verifier_retries = verifier_retries
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_length=max_obs_chars, min_length=0, charset=OBS_CHARSET)
        self.action_space = spaces.Text(max_length=MAX_ACTION_CHARS, min_length=1, charset=ACTION_CHARSET)
        self.sandbox: Sandbox | None = None
        self.last_result: CommandResult | None = None
        self.last_verdict: Verdict | None = None
        self._header = ""
        self._transcript = ""
        self._steps = 0
        self._started = 0.0
        self._done = True
        self._limits_hit: list[str] = []

    # -- Gymnasium API ---------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        """A fresh sandbox with the task laid out. options: {"task": Task | id | path} switches task."""
        super().reset(seed=seed)
        if options and options.get("task") is not None:
            task = options["task"]
            self.task = task if isinstance(task, Task) else load_task(task)
            self.max_steps, self.time_limit_s = self.task.max_steps, self.task.timeout_s
        self._close_sandbox()
        self.sandbox = Sandbox(limits=task_limits(self.task, self.limits), layer=self.layer,
                               workdir=self.task.workdir)
        self._limits_hit = self.sandbox.limits_hit
        prepare(self.task, self.sandbox)
        self._header = sanitize(f"{self.task.instruction}\n\n[You are in a bash shell in {self.sandbox.workdir}. "
                                f"Send one command per step; send `{SUBMIT}` when you are done.]\n")
        self._transcript = ""
        self._steps = 0
        self._started = time.monotonic()
        self._done = False
        self.last_result = self.last_verdict = None
        return self._observation(), self._info()

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        if self._done or self.sandbox is None:
            raise RuntimeError("the episode is over: call reset() before step()")
        command = str(action)
        if command.strip() == SUBMIT:
            self._transcript += f"$ {SUBMIT}\n"
            return self._finish(reward=0.0, terminated=True, truncated=False)
        remaining = self.time_limit_s - (time.monotonic() - self._started)
        result = self.sandbox.run(command, timeout=max(0.5, min(self.command_timeout_s, remaining)))
        self.last_result = result
        self._steps += 1
        chunk = f"$ {command}\n{result.output}"
        if result.output and not result.output.endswith("\n"):
            chunk += "\n"
        if result.exit_code != 0:
            chunk += f"[exit code {result.exit_code}]\n"
        self._transcript += sanitize(chunk)
        penalty = self.step_penalty + (self.error_penalty if result.exit_code != 0 else 0.0)
        reward = -penalty if penalty else 0.0
        if self.verify_every_step:
            verdict = verify(self.task, self.sandbox, retries=self.verifier_retries)
            if verdict.passed:
                return self._finish(reward, terminated=True, truncated=False, verdict=verdict)
        out_of_time = time.monotonic() - self._started >= self.time_limit_s
        if out_of_time:
            self._limits_hit.append("wall_time")
        if self._steps >= self.max_steps or out_of_time:
            return self._finish(reward, terminated=False, truncated=True)
        obs = self._observation()
        if self.render_mode == "human":
            print(self._transcript_tail())
        return obs, reward, False, False, self._info()

    def render(self) -> str | None:
        text = self._observation()
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        self._close_sandbox()
        super().close()

    # -- helpers ---------------------------------------------------------------------------------------

    def _finish(self, reward: float, *, terminated: bool, truncated: bool,
                verdict: Verdict | None = None) -> tuple[str, float, bool, bool, dict]:
        assert self.sandbox is not None
        verdict = verdict or verify(self.task, self.sandbox, retries=self.verifier_retries)
        self.last_verdict = verdict
        self._done = True
        total = math.nan if verdict.status == NO_SCORE else reward + float(verdict.reward or 0.0)
        info = self._info()
        info.update(status=verdict.status, reward=verdict.reward, reason=verdict.reason)
        self._close_sandbox()
        return self._observation(), total, terminated, truncated, info

    def _observation(self) -> str:
        if len(self._header) + len(self._transcript) <= self.max_obs_chars:
            return self._header + self._transcript
        marker = "\n[... earlier output omitted ...]\n"
        header = self._header[: self.max_obs_chars // 2]
        keep = self.max_obs_chars - len(header) - len(marker)
        if len(self._transcript) > 4 * self.max_obs_chars:  # keep memory bounded on very long episodes
            self._transcript = self._transcript[-2 * self.max_obs_chars:]
        return header + marker + self._transcript[-keep:]

    def _transcript_tail(self) -> str:
        return self._transcript.rsplit("$ ", 1)[-1]

    def _info(self) -> dict[str, Any]:
        result = self.last_result
        return {
            "task_id": self.task.id, "step": self._steps,
            "exit_code": result.exit_code if result else None,
            "timed_out": bool(result and result.timed_out), "limit": result.limit if result else None,
            "limits_hit": list(self._limits_hit),
            "layer": self.sandbox.layer if self.sandbox else None,
        }

    def _close_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
