"""OpenAI Codex CLI rollouts (`~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`) → canonical Sessions.

Facts the parser relies on (checked against Codex CLI 0.169.0 run here, and openai/codex
`codex-rs/protocol/src/{models,protocol}.rs`; see docs/formats.md):
- One JSON object per line: `{timestamp, type, payload}`; `type` is session_meta | turn_context |
  response_item | event_msg | compacted (+ newer bookkeeping: world_state, token_usage_record, …, ignored).
- `session_meta.payload`: id, cwd, cli_version, originator, source (a string, or {"subagent": {"thread_spawn":
  {"parent_thread_id", "depth", …}}} for a spawned agent), model_provider, git {commit_hash, branch,
  repository_url}.
- `response_item.payload` is what the model saw: message (role user | assistant | developer), reasoning
  (summary texts), function_call (name, arguments as a JSON *string*, call_id), function_call_output
  (call_id, output string or content items), custom_tool_call / custom_tool_call_output (apply_patch's
  freeform patch), local_shell_call (action.exec.command argv), web_search_call.
- Prompts are `user` messages; the CLI also injects `user` messages of its own (`<environment_context>`,
  AGENTS.md, skills). 0.16x marks them in `internal_chat_message_metadata_passthrough.content_item_kinds`;
  older rollouts are recognised by their leading markup.
- Shell outputs carry the exit code in text ("Process exited with code N", "Exit code: N", or a JSON
  `{"output", "metadata": {"exit_code", "duration_seconds"}}`); `event_msg` exec_command_end /
  item_completed(CommandExecution) give it structured, keyed by call_id.
- `event_msg` token_count carries running totals (`info.total_token_usage`); per-turn usage is their delta.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.sources.base import Line, ParsedFile, TurnBuilder, discover_files, json_objects

EXIT_PATTERNS = (
    re.compile(r"^Process exited with code (-?\d+)", re.M),
    re.compile(r"^Exit code: (-?\d+)", re.M),
)
WALL_TIME = re.compile(r"^Wall time: ([\d.]+) seconds", re.M)
# What the CLI answers instead of running a call (a patch it could not apply, a tool it refused): an error,
# though the output carries no exit code and no `success` flag.
REJECTED = re.compile(r"^(?:unsupported custom tool call|apply_patch verification failed|Failed to apply patch|"
                      r"Invalid patch|invalid patch)\b")
# User messages the CLI writes for the model, not typed by the user (older rollouts have no marker).
INJECTED_PREFIXES = (
    "<environment_context>", "<user_instructions>", "# AGENTS.md instructions", "<INSTRUCTIONS>",
    "<permissions instructions>", "<skills_instructions>", "<user_shell_command>", "<turn_aborted>",
    "<developer_instructions>", "<collaboration_mode>",
)
SHELL_ARGV_WRAPPERS = ({"bash", "/bin/bash", "sh", "/bin/sh", "zsh", "/bin/zsh"}, {"-lc", "-c"})
# Codex tool names that run a shell command → the canonical shell tool name (schema.SHELL_TOOL_NAMES).
SHELL_TOOLS = {"exec_command": "exec_command", "shell": "shell", "local_shell": "local_shell",
               "shell_command": "shell", "container.exec": "shell"}


MODEL_ITEMS = frozenset({"reasoning", "function_call", "custom_tool_call", "local_shell_call", "web_search_call"})

class CodexSource:
    name = "codex"
    source = "codex"
    line_based = True
    takes_views = True

    def default_root(self) -> Path:
        import os

        return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex") / "sessions"

    def discover(self, root: Path) -> list[Path]:
        return discover_files(root, "rollout-*.jsonl")

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        return parse_rollout(path, lines)


def _argv_command(argv: list[Any]) -> str:
    """`["bash", "-lc", "ls"]` → "ls"; any other argv → its shell-quoted join."""
    parts = [str(a) for a in argv]
    if len(parts) == 3 and parts[0] in SHELL_ARGV_WRAPPERS[0] and parts[1] in SHELL_ARGV_WRAPPERS[1]:
        return parts[2]
    return shlex.join(parts)


def _tool_input(name: str, arguments: Any) -> tuple[str, Any, dict[str, Any]]:
    """(canonical tool name, input, meta) for a Codex tool call; shell commands land in input["command"]."""
    meta: dict[str, Any] = {}
    args: Any = arguments
    if isinstance(arguments, str):
        try:
            args = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError:
            meta["unparsed_arguments"] = True
            args = {"raw": arguments}
    if name == "apply_patch":
        patch = args.get("input") if isinstance(args, dict) else args
        return "apply_patch", {"patch": patch if isinstance(patch, str) else arguments}, meta
    if name in SHELL_TOOLS:
        canonical = SHELL_TOOLS[name]
        if canonical != name:
            meta["codex_tool"] = name
        data = dict(args) if isinstance(args, dict) else {"raw": args}
        command = data.get("cmd", data.get("command"))
        if isinstance(command, list):
            if command and command[0] == "apply_patch" and len(command) == 2:  # old shell-wrapped patches
                return "apply_patch", {"patch": command[1]}, {"codex_tool": name}
            data["argv"] = command
            command = _argv_command(command)
        if isinstance(command, str):
            data["command"] = command
        return canonical, data, meta
    return name, args, meta


_HEADER = re.compile(r"\A(?:(?:Chunk ID: |Wall time: |Process exited with code |Exit code: |Original token count: |"
                     r"Total output lines: )[^\n]*\n)+Output:\n")


def output_body(text: str) -> str:
    """A shell output without the header the CLI puts before it (chunk id, wall time, exit code, token
    count): what the command printed, for reading. The importer reads the exit code and wall time from it.

    >>> output_body("Chunk ID: 8cb214\\nWall time: 0.0000 seconds\\nProcess exited with code 0\\nOutput:\\n2 notes.txt\\n")
    '2 notes.txt\\n'
    """
    match = _HEADER.match(text)
    return text[match.end():] if match else text


def _output_text(output: Any) -> tuple[str, bool | None]:
    """Text of a function_call_output payload and its `success` flag when the source gave one."""
    if isinstance(output, str):
        return output, None
    if isinstance(output, dict):
        text, _ = _output_text(output.get("content") if "content" in output else output.get("output"))
        success = output.get("success")
        return text, success if isinstance(success, bool) else None
    if isinstance(output, list):
        parts = []
        for item in output:
            if isinstance(item, dict) and item.get("type") in ("input_text", "output_text", "text"):
                parts.append(item.get("text") or "")
            elif isinstance(item, dict) and item.get("type") == "input_image":
                parts.append("[image]")
        return "\n".join(parts), None
    return "" if output is None else str(output), None


def _structured_output(text: str) -> tuple[str, int | None, int | None]:
    """Legacy `{"output": ..., "metadata": {"exit_code", "duration_seconds"}}` outputs → (text, exit, ms)."""
    if not text.startswith('{"output"'):
        return text, None, None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text, None, None
    if not isinstance(data, dict) or not isinstance(data.get("output"), str):
        return text, None, None
    meta = data.get("metadata") or {}
    exit_code = meta.get("exit_code") if isinstance(meta.get("exit_code"), int) else None
    seconds = meta.get("duration_seconds")
    return data["output"], exit_code, int(seconds * 1000) if isinstance(seconds, int | float) else None


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for item in content or []:
        if isinstance(item, dict):
            if item.get("type") in ("input_text", "output_text", "text"):
                parts.append(item.get("text") or "")
            elif item.get("type") == "input_image":
                parts.append("[image]")
    return "\n".join(parts)


def _is_prompt(payload: dict[str, Any], text: str) -> bool:
    kinds = (payload.get("internal_chat_message_metadata_passthrough") or {}).get("content_item_kinds")
    if isinstance(kinds, list) and kinds:
        return any(isinstance(k, str) and k.startswith("user.") for k in kinds)
    return not text.lstrip().startswith(INJECTED_PREFIXES)


def _usage(totals: dict[str, Any]) -> Usage:
    cached = int(totals.get("cached_input_tokens") or 0)
    return Usage(
        input_tokens=max(0, int(totals.get("input_tokens") or 0) - cached),
        output_tokens=int(totals.get("output_tokens") or 0),
        cache_read_tokens=cached,
        cache_creation_tokens=int(totals.get("cache_write_input_tokens") or 0),
    )


def _minus(a: Usage, b: Usage) -> Usage:
    return Usage(a.input_tokens - b.input_tokens, a.output_tokens - b.output_tokens,
                 a.cache_read_tokens - b.cache_read_tokens, a.cache_creation_tokens - b.cache_creation_tokens)


class _Builder(TurnBuilder):
    """Accumulates one rollout's turns from its lines in order."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.pending: dict[str, Step] = {}
        self.by_call: dict[str, Step] = {}
        self.exec_results: dict[str, dict[str, Any]] = {}
        self.thinking_step: Step | None = None
        self.model: str | None = None
        self.models: dict[str, None] = {}
        self.totals = Usage()
        self.turn_id: str | None = None
        self.response = 0  # model responses so far: the items of one share a MESSAGE_ID
        self.response_closed = False  # a result or a prompt came since: the next model item is a new response

    def turn_opened(self, turn: Turn) -> None:
        if self.turn_id:
            turn.meta["turn_id"] = self.turn_id
        self.thinking_step = None

    # ----------------------------------------------------------------------------------- response items

    def response_item(self, p: dict[str, Any], ts: str | None) -> None:
        """One response item; the model's items between two results (or prompts) are one response, so
        calls made together stay together and a call made after a result is the next message."""
        kind = p.get("type")
        from_model = kind in MODEL_ITEMS or (kind == "message" and p.get("role") == "assistant")
        if from_model and self.response_closed:
            self.response += 1
            self.response_closed = False
        elif kind in ("function_call_output", "custom_tool_call_output") or kind == "message":
            self.response_closed = True
        turn, before = self.turn, len(self.turn.steps) if self.turn is not None else 0
        self._response_item(p, ts)
        if from_model and self.turn is not None:
            for step in self.turn.steps[before if turn is self.turn else 0:]:
                step.meta.setdefault(MESSAGE_ID, f"response-{self.response}")

    def _response_item(self, p: dict[str, Any], ts: str | None) -> None:
        kind = p.get("type")
        if kind == "message":
            self.message(p, ts)
        elif kind == "reasoning":
            summary = "\n".join(s.get("text") or "" for s in p.get("summary") or [] if isinstance(s, dict))
            content = p.get("content")
            raw = "\n".join(c.get("text") or "" for c in content or [] if isinstance(c, dict)) \
                if isinstance(content, list) else ""
            step = Step(kind="message", role="assistant", thinking=summary or raw, timestamp=ts, model=self.model)
            if p.get("encrypted_content"):
                step.meta["encrypted_reasoning"] = True
            if summary and raw:
                step.meta["reasoning_text"] = raw
            self.add(step)
            self.thinking_step = step
        elif kind in ("function_call", "custom_tool_call"):
            raw_args = p.get("arguments") if kind == "function_call" else {"input": p.get("input")}
            name, data, meta = _tool_input(p.get("name") or "", raw_args)
            if kind == "custom_tool_call":
                meta["custom_tool"] = True
                if name != "apply_patch":
                    data = p.get("input")
            self.call(Step(kind="tool_call", tool_name=name, call_id=p.get("call_id"), input=data,
                           timestamp=ts, model=self.model, meta=meta))
        elif kind == "local_shell_call":
            action = p.get("action") or {}
            argv = action.get("command") or []
            data = {"command": _argv_command(argv) if isinstance(argv, list) else str(argv), "argv": argv}
            for key in ("working_directory", "timeout_ms"):
                if action.get(key) is not None:
                    data[key] = action[key]
            self.call(Step(kind="tool_call", tool_name="local_shell", call_id=p.get("call_id") or p.get("id"),
                           input=data, timestamp=ts, model=self.model))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self.result(p, ts)
        elif kind == "web_search_call":
            step = Step(kind="tool_call", tool_name="web_search", call_id=p.get("id"), input=p.get("action"),
                        output="", timestamp=ts, model=self.model, meta={"status": p.get("status")})
            self.add(step)

    def message(self, p: dict[str, Any], ts: str | None) -> None:
        role = p.get("role")
        text = _message_text(p.get("content"))
        if role == "user":
            if not _is_prompt(p, text):
                return  # context the CLI injected for the model
            turn = self.new_turn(text, ts)
            self.add(Step(kind="message", role="user", text=text, timestamp=ts))
            turn.ended_at = ts
        elif role == "assistant":
            step = self.thinking_step
            if step is not None and self.turn is not None and self.turn.steps and self.turn.steps[-1] is step \
                    and not step.text:
                step.text = text
                step.timestamp = step.timestamp or ts
            else:
                self.add(Step(kind="message", role="assistant", text=text, timestamp=ts, model=self.model))
            self.thinking_step = None
        # developer / system messages are instructions, not conversation

    def call(self, step: Step) -> None:
        self.add(step)
        self.thinking_step = None
        if step.call_id:
            self.pending[step.call_id] = step
            self.by_call[step.call_id] = step
            if step.call_id in self.exec_results:
                self.apply_exec(step, self.exec_results.pop(step.call_id))

    def result(self, p: dict[str, Any], ts: str | None) -> None:
        call_id = p.get("call_id")
        step = self.pending.pop(call_id, None) if call_id else None
        if step is None:
            step = Step(kind="tool_call", call_id=call_id, timestamp=ts, meta={"orphan_result": True})
            self.add(step)
        text, success = _output_text(p.get("output"))
        text, exit_code, duration = _structured_output(text)
        step.output = text
        if exit_code is None:
            for pattern in EXIT_PATTERNS:
                match = pattern.search(text[:2000])
                if match:
                    exit_code = int(match.group(1))
                    break
        if duration is None:
            match = WALL_TIME.search(text[:2000])
            if match:
                duration = int(float(match.group(1)) * 1000)
        if exit_code is not None and step.exit_code is None:
            step.exit_code = exit_code
        if duration is not None and step.duration_ms is None:
            step.duration_ms = duration
        if success is False or REJECTED.match(text):
            step.is_error = True
        if step.exit_code not in (None, 0):
            step.is_error = True
        if text.startswith("aborted") or "aborted by user" in text[:200]:
            step.interrupted = True
        if ts and self.turn is not None:
            self.turn.ended_at = ts

    def apply_exec(self, step: Step, event: dict[str, Any]) -> None:
        exit_code = event.get("exit_code")
        if isinstance(exit_code, int):
            step.exit_code = exit_code
            step.is_error = step.is_error or exit_code != 0
        duration = event.get("duration")
        if isinstance(duration, dict):
            step.duration_ms = int(duration.get("secs", 0) * 1000 + duration.get("nanos", 0) / 1e6)
        elif isinstance(duration, int | float):
            step.duration_ms = int(duration)
        if event.get("status") in ("declined",):
            step.meta["declined"] = True

    # ------------------------------------------------------------------------------------------- events

    def event(self, p: dict[str, Any], ts: str | None) -> None:
        kind = p.get("type")
        if kind == "token_count":
            info = p.get("info") or {}
            total = info.get("total_token_usage")
            if isinstance(total, dict):
                now = _usage(total)
                delta = _minus(now, self.totals)
                if delta.total > 0:
                    self.ensure_turn(ts).usage.add(delta)
                self.totals = now
        elif kind == "exec_command_end":
            self.exec_event(p.get("call_id"), p)
        elif kind == "item_completed":
            item = p.get("item") or {}
            if item.get("type") == "CommandExecution":
                self.exec_event(item.get("id"), item)
        elif kind == "turn_aborted":
            for step in self.pending.values():
                step.interrupted = True
            self.pending.clear()
            if self.turn is not None:
                self.turn.meta["aborted"] = p.get("reason") or True
        elif kind == "task_started":
            self.turn_id = p.get("turn_id")
        elif kind == "task_complete" and self.turn is not None and isinstance(p.get("duration_ms"), int):
            self.turn.meta["duration_ms"] = p["duration_ms"]

    def exec_event(self, call_id: str | None, event: dict[str, Any]) -> None:
        if not call_id:
            return
        step = self.by_call.get(call_id)
        if step is None:
            self.exec_results[call_id] = event
        else:
            self.apply_exec(step, event)

    def finish(self) -> None:
        for step in self.pending.values():
            step.meta["no_result"] = True
        self.pending.clear()
        self.session.usage = Usage()
        for turn in self.session.turns:
            self.session.usage.add(turn.usage)
        self.session.models = list(self.models)


def _session_meta(s: Session, p: dict[str, Any]) -> None:
    if p.get("id"):
        s.id = str(p["id"])
    s.cwd = p.get("cwd") or s.cwd
    s.project = s.cwd
    s.agent_version = p.get("cli_version") or s.agent_version
    git = p.get("git") or {}
    if isinstance(git, dict):
        s.git_commit = git.get("commit_hash") or s.git_commit
        branch = git.get("branch")
        if branch and branch != "HEAD":
            s.git_branch = branch
        if git.get("repository_url"):
            s.meta["repository_url"] = git["repository_url"]
    for key in ("originator", "model_provider"):
        if p.get(key):
            s.meta[key] = p[key]
    source = p.get("source")
    if isinstance(source, str):
        s.meta["codex_source"] = source
    elif isinstance(source, dict):
        sub = source.get("subagent")
        s.meta["codex_source"] = "subagent"
        if isinstance(sub, dict) and isinstance(sub.get("thread_spawn"), dict):
            spawn = sub["thread_spawn"]
            s.parent_id = spawn.get("parent_thread_id")
            s.meta.update({k: spawn[k] for k in ("depth", "agent_nickname", "agent_role", "agent_path")
                           if spawn.get(k) is not None})
        elif sub is not None:
            s.meta["subagent"] = sub


def parse_rollout(path: str, lines: Iterable[Line]) -> ParsedFile:
    """Parse one rollout file into its session."""
    result = ParsedFile()
    stem = Path(path).stem
    fallback_id = stem[-36:] if len(stem) >= 36 else stem
    b = _Builder(Session(id=fallback_id, source="codex", source_path=path))
    s = b.session
    seen = False
    for line_no, obj in json_objects(lines, result.errors):
        kind = obj.get("type")
        payload = obj.get("payload")
        ts = obj.get("timestamp")
        if kind is None and "record_type" in obj:
            continue  # the oldest (0.1x) rollouts' state lines
        if not isinstance(payload, dict):
            if kind in ("session_meta", "turn_context", "response_item", "event_msg"):
                result.errors.append((line_no, f"{kind} line without a payload object"))
            continue
        seen = True
        if ts:
            if s.started_at is None or ts < s.started_at:
                s.started_at = ts
            if s.ended_at is None or ts > s.ended_at:
                s.ended_at = ts
        try:
            if kind == "response_item":
                b.response_item(payload, ts)
            elif kind == "event_msg":
                b.event(payload, ts)
            elif kind == "turn_context":
                model = payload.get("model")
                if model:
                    b.model = model
                    b.models[model] = None
                if payload.get("turn_id"):
                    b.turn_id = payload["turn_id"]
                if not s.cwd and payload.get("cwd"):
                    s.cwd = s.project = payload["cwd"]
            elif kind == "session_meta":
                _session_meta(s, payload)
            elif kind == "compacted":
                b.add(Step(kind="message", role="system", text=payload.get("message") or "", timestamp=ts,
                           meta={"compact_summary": True}))
                s.meta["compactions"] = s.meta.get("compactions", 0) + 1
        except (TypeError, AttributeError, ValueError) as exc:
            result.errors.append((line_no, f"unexpected {kind} line shape: {exc}"))
    b.finish()
    if seen:
        result.sessions.append(s)
    return result
