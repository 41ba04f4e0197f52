"""The canonical trace model every stage reads and writes: Session > Turn > Step.

Sources (Claude Code, Codex, Gemini, OpenCode, gym rollouts, public corpora) are parsed into these
dataclasses; the store persists them; the judge, factory, gym and UI read them back. Nothing downstream
knows which agent produced a session: a shell command is a `tool_call` step whatever its source.

Plain dataclasses with slots rather than pydantic models: the importer builds millions of steps and the
import benchmark budgets a small multiple of `json.loads` per line. `to_dict` / `from_dict` give the JSON
form that `bashgym sessions show ID --json` prints (the public contract; bump SCHEMA_VERSION on change).

Where a turn's prompt lives (one rule; every stage asks `conversation` / `steps_after_prompt`):
`Turn.prompt` is the request text. Sources also record the request as the turn's first step, a user
message step with the same text (it carries the prompt's timestamp and attachments); that step IS the
prompt, not a second message. A turn without such a step (gym rollouts, hand-built sessions) has its prompt
only in `Turn.prompt`. Whatever writes the conversation out (exports, the UI, `sessions show`, the judge)
takes `conversation(turn)`: the prompt exactly once, then what followed, in order.

Which tool calls were made together: steps that came in one model message share `meta["message_id"]`
(MESSAGE_ID). Calls in one message are parallel (one assistant message with several calls, then their
results); calls in different messages, or without the key (sessions stored before it was recorded), are
sequential (each call's result comes before the next call).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
MESSAGE_ID = "message_id"  # Step.meta key: the model message a step came in (see the module docstring)

SOURCES = ("claude_code", "codex", "gemini", "opencode", "mini_swe_agent", "aider", "qwen", "cline", "copilot",
           "openhands", "gym", "import")
STEP_KINDS = ("message", "tool_call")
ROLES = ("user", "assistant", "system", "tool")
TIERS = ("gold", "silver", "bronze", "failed")

# Tool names that run a shell command, whatever the agent calls them. Later stages use `is_shell_call`.
SHELL_TOOL_NAMES = frozenset(
    {"Bash", "bash", "shell", "exec_command", "local_shell", "run_shell_command", "execute_bash", "terminal",
     "run_commands", "powershell"}
)


@dataclass(slots=True)
class Usage:
    """Token counts; summed from the source's own per-message usage records."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_creation_tokens += other.cache_creation_tokens

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_creation_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(
            int(data.get("input_tokens") or 0),
            int(data.get("output_tokens") or 0),
            int(data.get("cache_read_tokens") or 0),
            int(data.get("cache_creation_tokens") or 0),
        )


@dataclass(slots=True)
class Step:
    """One thing that happened: a message (role, text, thinking) or a tool call with its result.

    `call_id` is the source's own tool-use id, so a call and its result pair up exactly. `output` is None
    while no result was recorded (the session died mid-call); `is_error` and `exit_code` are the source's
    own verdicts, `interrupted` marks a call the user stopped. `meta` holds source details worth keeping
    (image references, file-edit patches, the subagent session a Task call spawned).
    """

    kind: str
    role: str = "assistant"
    text: str = ""
    thinking: str = ""
    tool_name: str | None = None
    call_id: str | None = None
    input: Any = None
    output: str | None = None
    is_error: bool = False
    exit_code: int | None = None
    interrupted: bool = False
    duration_ms: int | None = None
    timestamp: str | None = None
    model: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_tool_call(self) -> bool:
        return self.kind == "tool_call"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "role": self.role, "timestamp": self.timestamp}
        if self.kind == "message":
            data["text"] = self.text
            data["thinking"] = self.thinking
        else:
            data.update(
                tool_name=self.tool_name,
                call_id=self.call_id,
                input=self.input,
                output=self.output,
                is_error=self.is_error,
                exit_code=self.exit_code,
                interrupted=self.interrupted,
                duration_ms=self.duration_ms,
            )
            if self.text or self.thinking:
                data["text"] = self.text
                data["thinking"] = self.thinking
        data["model"] = self.model
        data["meta"] = self.meta
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(
            kind=data["kind"],
            role=data.get("role") or "assistant",
            text=data.get("text") or "",
            thinking=data.get("thinking") or "",
            tool_name=data.get("tool_name"),
            call_id=data.get("call_id"),
            input=data.get("input"),
            output=data.get("output"),
            is_error=bool(data.get("is_error")),
            exit_code=data.get("exit_code"),
            interrupted=bool(data.get("interrupted")),
            duration_ms=data.get("duration_ms"),
            timestamp=data.get("timestamp"),
            model=data.get("model"),
            meta=dict(data.get("meta") or {}),
        )


@dataclass(slots=True)
class Turn:
    """One user request and everything the agent did for it, in order. `prompt` is the request text."""

    index: int
    prompt: str = ""
    steps: list[Step] = field(default_factory=list)
    started_at: str | None = None
    ended_at: str | None = None
    usage: Usage = field(default_factory=Usage)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def tool_calls(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "tool_call"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "prompt": self.prompt,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "usage": self.usage.to_dict(),
            "meta": self.meta,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            index=int(data["index"]),
            prompt=data.get("prompt") or "",
            steps=[Step.from_dict(s) for s in data.get("steps") or []],
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            usage=Usage.from_dict(data.get("usage")),
            meta=dict(data.get("meta") or {}),
        )


@dataclass(slots=True)
class Session:
    """A whole agent session. `id` is stable, taken from the source, so re-imports replace, never add.

    Subagent sessions are sessions of their own with `parent_id` set; `source_path` is the file it was
    read from (for incremental re-import and for error messages).
    """

    id: str
    source: str
    turns: list[Turn] = field(default_factory=list)
    project: str | None = None
    cwd: str | None = None
    git_branch: str | None = None
    git_commit: str | None = None
    models: list[str] = field(default_factory=list)
    started_at: str | None = None
    ended_at: str | None = None
    usage: Usage = field(default_factory=Usage)
    parent_id: str | None = None
    agent_version: str | None = None
    title: str | None = None
    source_path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def steps(self) -> list[Step]:
        return [s for t in self.turns for s in t.steps]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "id": self.id,
            "source": self.source,
            "project": self.project,
            "cwd": self.cwd,
            "git_branch": self.git_branch,
            "git_commit": self.git_commit,
            "models": list(self.models),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "usage": self.usage.to_dict(),
            "parent_id": self.parent_id,
            "agent_version": self.agent_version,
            "title": self.title,
            "source_path": self.source_path,
            "meta": self.meta,
            "turns": [t.to_dict() for t in self.turns],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        return cls(
            id=data["id"],
            source=data["source"],
            turns=[Turn.from_dict(t) for t in data.get("turns") or []],
            project=data.get("project"),
            cwd=data.get("cwd"),
            git_branch=data.get("git_branch"),
            git_commit=data.get("git_commit"),
            models=list(data.get("models") or []),
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            usage=Usage.from_dict(data.get("usage")),
            parent_id=data.get("parent_id"),
            agent_version=data.get("agent_version"),
            title=data.get("title"),
            source_path=data.get("source_path"),
            meta=dict(data.get("meta") or {}),
            schema_version=int(data.get("schema_version") or SCHEMA_VERSION),
        )


def prompt_step(turn: Turn) -> Step | None:
    """The step that records the turn's prompt (its first step, a user message with the prompt's text), or
    None when the prompt lives only in `Turn.prompt`.

    >>> t = Turn(0, "hi", [Step("message", "user", "hi"), Step("message", "assistant", "hello")])
    >>> prompt_step(t) is t.steps[0], prompt_step(Turn(0, "hi", [Step("message", "assistant", "ok")]))
    (True, None)
    """
    if turn.prompt and turn.steps:
        first = turn.steps[0]
        if first.kind == "message" and first.role == "user" and first.text.strip() == turn.prompt.strip():
            return first
    return None


def steps_after_prompt(turn: Turn) -> list[Step]:
    """What happened after the prompt: the turn's steps without the one recording the prompt."""
    return turn.steps[1:] if prompt_step(turn) is not None else list(turn.steps)


def conversation(turn: Turn) -> list[Step]:
    """The turn as it was said: the prompt exactly once, as a user message step, then every later step.

    >>> [s.text for s in conversation(Turn(0, "hi", [Step("message", "user", "hi"), Step("message", "assistant", "yo")]))]
    ['hi', 'yo']
    >>> [s.text for s in conversation(Turn(0, "hi", [Step("message", "assistant", "yo")]))]
    ['hi', 'yo']
    """
    if not turn.prompt or prompt_step(turn) is not None:
        return list(turn.steps)
    return [Step(kind="message", role="user", text=turn.prompt, timestamp=turn.started_at), *turn.steps]


def same_message(a: Step, b: Step) -> bool:
    """True when two steps came in one model message (so two tool calls were made in parallel)."""
    mid = a.meta.get(MESSAGE_ID)
    return mid is not None and mid == b.meta.get(MESSAGE_ID)


def is_shell_call(step: Step) -> bool:
    """True when a step runs a shell command, whichever agent ran it.

    >>> is_shell_call(Step(kind="tool_call", tool_name="Bash", input={"command": "ls"}))
    True
    """
    return step.kind == "tool_call" and step.tool_name in SHELL_TOOL_NAMES


def shell_command(step: Step) -> str | None:
    """The command string of a shell tool call, or None. Sources name the field differently."""
    if not is_shell_call(step):
        return None
    data = step.input
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for key in ("command", "cmd", "script"):
            value = data.get(key)
            if isinstance(value, list):
                return " ".join(str(v) for v in value)
            if isinstance(value, str):
                return value
    return None
