"""The bash gym: sandboxed shell tasks with verifiable rewards.

Importing `bashgym.gym` registers the Gymnasium env id ``bashgym/BashTask-v1`` (when gymnasium, from the
``gym`` extra, is installed; the sandbox and task modules work without it):

    gymnasium.make("bashgym/BashTask-v1", task=TASK)   # TASK: a Task, a builtin task id or a task directory

Bump the version in the id when a task or the reward changes. v1: the tests run in a fresh sandbox after
every agent process is killed (issue 16), and proc-kill-pidfile checks files instead of processes.
"""

from __future__ import annotations

import importlib.util

from bashgym.gym.protocol import ENV_ID


def register_envs() -> None:
    """Register ``bashgym/BashTask-v1`` with Gymnasium (idempotent)."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="bashgym.gym.env:BashTaskEnv", disable_env_checker=False)


if importlib.util.find_spec("gymnasium") is not None:
    register_envs()
