"""The agent loop: a chat model drives one gym episode through the Gymnasium API (reset / step).

The model sees the task instruction and has one tool, `bash` (a `command` string); each call is one
`env.step(command)` and its output goes back as the tool result. A reply without a tool call ends the
episode: the env is sent its submit action and the task's tests decide the reward. Endpoints without
tool support use the fenced-bash protocol (the client turns a ```bash block into the call).

The whole exchange is kept as canonical schema steps, so a rollout is stored as a Session
(source="gym") that `bashgym judge` and `dataset build` read like any captured session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bashgym.eval.clients import ChatClient, Reply
from bashgym.gym.protocol import FENCED_SYSTEM_PROMPT, SUBMIT, SYSTEM_PROMPT, InfraError, infra_failure
from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.store import now_iso

MAX_OUTPUT_CHARS = 8000


@dataclass(slots=True)
class Episode:
    """One rollout: the verdict, the trace (schema steps and chat messages) and what it cost."""

    task_id: str
    category: str
    instruction: str
    status: str = "error"  # passed | failed | error (error = no score)
    reward: float | None = None
    ended_by: str = ""  # submit | terminated | truncated | max_turns | infra
    error: str | None = None
    steps: list[Step] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    commands: int = 0
    started_at: str = ""
    ended_at: str = ""
    duration_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    limits_hit: list[str] = field(default_factory=list)  # sandbox limits the episode ran into (gym info)
    worker: str = ""  # host:pid of the process that ran it (a thread here, or a Ray worker)

    def detail(self) -> dict[str, Any]:
        """The rollout row's detail column."""
        return {
            "category": self.category,
            "ended_by": self.ended_by,
            "error": self.error,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "model_calls": self.model_calls,
            "commands": self.commands,
            "duration_s": round(self.duration_s, 3),
            "limits_hit": list(self.limits_hit),
            "worker": self.worker,
        }

    def to_session(self, *, session_id: str, eval_id: str, model: str, sample_idx: int) -> Session:
        """The rollout as a canonical session (contracts: source gym, meta task_id/reward/eval_id/model)."""
        usage = Usage(input_tokens=self.prompt_tokens, output_tokens=self.completion_tokens)
        turn = Turn(
            index=0, prompt=self.instruction, steps=list(self.steps), started_at=self.started_at,
            ended_at=self.ended_at, usage=Usage(self.prompt_tokens, self.completion_tokens),
        )
        return Session(
            id=session_id,
            source="gym",
            turns=[turn],
            project=f"gym/{self.task_id}",
            models=[model],
            started_at=self.started_at,
            ended_at=self.ended_at,
            usage=usage,
            title=f"{self.task_id} #{sample_idx}",
            meta={
                "task_id": self.task_id,
                "reward": self.reward,
                "eval_id": eval_id,
                "model": model,
                "sample_idx": sample_idx,
                "category": self.category,
                "status": self.status,
                "ended_by": self.ended_by,
                "passed": self.status == "passed" if self.status != "error" else None,
                "limits_hit": list(self.limits_hit),
            },
        )


def step_output(env: Any, previous_obs: Any, obs: Any, info: dict[str, Any]) -> tuple[str, int | None]:
    """The output and exit code of the command just run.

    The env keeps the last `CommandResult` on `env.unwrapped.last_result`; without it, the output is what
    the observation (instruction + transcript) grew by.
    """
    result = getattr(getattr(env, "unwrapped", env), "last_result", None)
    if result is not None and isinstance(getattr(result, "output", None), str):
        return result.output, getattr(result, "exit_code", info.get("exit_code"))
    exit_code = info.get("exit_code")
    for key in ("output", "stdout"):
        if isinstance(info.get(key), str):
            return info[key], exit_code
    prev = previous_obs if isinstance(previous_obs, str) else ""
    text = obs if isinstance(obs, str) else str(obs)
    return (text[len(prev):] if text.startswith(prev) else text), exit_code


def verdict(reward: float | None, info: dict[str, Any]) -> str:
    """passed | failed from the env's final info (status pass/fail), else from the reward."""
    status = info.get("status")
    if status in ("pass", "passed"):
        return "passed"
    if status in ("fail", "failed"):
        return "failed"
    return "passed" if reward is not None and reward >= 1.0 else "failed"


def clip_output(text: str) -> str:
    """A tool result as the model sees it: at most MAX_OUTPUT_CHARS, keeping its head and tail (eval and GRPO)."""
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    half = MAX_OUTPUT_CHARS // 2
    return text[:half] + f"\n... [{len(text) - MAX_OUTPUT_CHARS} characters cut] ...\n" + text[-half:]


def run_episode(
    env: Any, client: ChatClient, *, task_id: str, category: str, instruction: str, seed: int | None = None,
    max_turns: int = 30,
) -> Episode:
    """Drive one episode of `env` with `client`; never raises for model or env failures (see Episode.status)."""
    ep = Episode(task_id=task_id, category=category, instruction=instruction, started_at=now_iso())
    start = time.monotonic()
    try:
        _drive(ep, env, client, seed=seed, max_turns=max_turns)
    except InfraError as exc:
        ep.status, ep.reward, ep.ended_by, ep.error = "error", None, "infra", str(exc)
    except Exception as exc:  # the sandbox or verifier crashed: no score, retried later
        ep.status, ep.reward, ep.ended_by, ep.error = "error", None, "infra", f"{type(exc).__name__}: {exc}"
    ep.duration_s = time.monotonic() - start
    ep.ended_at = now_iso()
    return ep


def _drive(ep: Episode, env: Any, client: ChatClient, *, seed: int | None, max_turns: int) -> None:
    obs, info = env.reset(seed=seed)
    system = FENCED_SYSTEM_PROMPT if client.tool_mode == "fenced" else SYSTEM_PROMPT
    ep.messages = [{"role": "system", "content": system}, {"role": "user", "content": ep.instruction}]
    reward: float | None = None
    done = False
    for turn in range(max_turns):
        reply = client.chat(ep.messages, seed=None if seed is None else seed * 1000 + turn)
        if client.tool_mode == "fenced" and ep.messages[0]["content"] != FENCED_SYSTEM_PROMPT:
            ep.messages[0]["content"] = FENCED_SYSTEM_PROMPT  # the client fell back mid-episode
        _account(ep, reply)
        reply_id = {MESSAGE_ID: f"reply-{turn}"}  # the steps of one reply are one model message
        if not reply.tool_calls:
            ep.messages.append({"role": "assistant", "content": reply.text})
            ep.steps.append(Step(kind="message", role="assistant", text=reply.text, timestamp=now_iso(),
                                 model=client.model, meta=dict(reply_id)))
            obs, reward, _terminated, _truncated, info = env.step(SUBMIT)
            ep.ended_by, done = "submit", True
            break
        ep.messages.append(
            {
                "role": "assistant",
                "content": reply.text,
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in reply.tool_calls
                ],
            }
        )
        if reply.text and not reply.fenced:
            ep.steps.append(Step(kind="message", role="assistant", text=reply.text, timestamp=now_iso(),
                                 model=client.model, meta=dict(reply_id)))
        for call in reply.tool_calls:
            command = call.command() if call.name == "bash" else None
            if command is None:
                message = (
                    f"error: unknown tool {call.name!r}; the only tool is `bash`" if call.name != "bash"
                    else "error: the bash tool needs a JSON object with a string `command`"
                )
                ep.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": message})
                ep.steps.append(Step(kind="tool_call", tool_name=call.name or "bash", call_id=call.id,
                                     input=_loose_json(call.arguments), output=message, is_error=True,
                                     timestamp=now_iso(), model=client.model, meta=dict(reply_id)))
                continue
            t0 = time.monotonic()
            previous = obs
            obs, reward, terminated, truncated, info = env.step(command)
            ep.limits_hit = list(info.get("limits_hit") or ep.limits_hit)
            failure = infra_failure(info)
            if failure:
                raise InfraError(f"sandbox failed on {command!r}: {failure}")
            output, exit_code = step_output(env, previous, obs, info)
            ep.commands += 1
            ep.messages.append({"role": "tool", "tool_call_id": call.id, "name": "bash", "content": clip_output(output)})
            ep.steps.append(Step(
                kind="tool_call", tool_name="bash", call_id=call.id, input={"command": command}, output=output,
                exit_code=exit_code, is_error=bool(exit_code), duration_ms=int((time.monotonic() - t0) * 1000),
                timestamp=now_iso(), model=client.model, text=reply.text if reply.fenced else "",
                meta=dict(reply_id),
            ))
            if terminated or truncated:
                ep.ended_by, done = ("terminated" if terminated else "truncated"), True
                break
        if done:
            break
    if not done:
        obs, reward, _terminated, _truncated, info = env.step(SUBMIT)
        ep.ended_by = "max_turns"
    failure = infra_failure(info)
    if failure:
        raise InfraError(f"verifier failed: {failure}")
    ep.info = {k: v for k, v in info.items() if isinstance(v, str | int | float | bool | type(None))}
    ep.limits_hit = list(info.get("limits_hit") or ep.limits_hit)
    ep.reward = float(reward) if reward is not None else None
    ep.status = verdict(ep.reward, info)


def _account(ep: Episode, reply: Reply) -> None:
    ep.model_calls += 1
    ep.prompt_tokens += reply.prompt_tokens
    ep.completion_tokens += reply.completion_tokens


def _loose_json(arguments: str) -> Any:
    import json

    try:
        return json.loads(arguments)
    except (json.JSONDecodeError, TypeError):
        return {"raw": arguments}
