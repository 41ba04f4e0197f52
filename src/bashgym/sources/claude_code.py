"""Claude Code transcripts (`~/.claude/projects/<project>/<session>.jsonl`) → canonical Sessions.

Facts the parser relies on (checked against Claude Code 2.1.197, see docs/formats.md):
- One JSON object per line; `type` is user | assistant | system | summary | attachment | queue-operation |
  last-prompt | mode | file-history-snapshot | … — only the first four carry the conversation.
- An assistant message is split over several lines, one per content block, sharing `message.id`; usage is
  repeated on each, so it is counted once per message id.
- Tool results arrive in `user` lines as `tool_result` blocks whose `tool_use_id` pairs with the call; the
  line's `toolUseResult` holds structured details (Bash stdout/stderr/interrupted, Edit patches, a Task's
  agentId).
- Subagents write `<session>/subagents/agent-<id>.jsonl` (+ `.meta.json`); their lines have
  `isSidechain: true`. Older versions wrote sidechain lines into the parent file instead.
- Compaction leaves a `system` line with subtype `compact_boundary` and a `user` line with
  `isCompactSummary`; slash commands appear as user text wrapped in `<command-name>` markup.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bashgym.paths import claude_home
from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.sources.base import Line, ParsedFile, TurnBuilder, discover_files, json_objects

INTERRUPTED = "[Request interrupted by user"
EXIT_CODE = re.compile(r"^Exit code (\d+)")
COMMAND_NAME = re.compile(r"<command-name>(.*?)</command-name>", re.S)
CONVERSATION_TYPES = {"user", "assistant", "system", "summary"}
# Lines that never carry conversation, recognised without parsing them (they stay in the raw lines).
SKIP_PREFIXES = (b'{"type":"queue-operation"', b'{"type":"last-prompt"', b'{"type":"file-history-snapshot"',
                 b'{"type":"mode"')
ATTACHMENT_KEY = b'"attachment":{'


def skip_line(data: bytes, start: int, stop: int) -> bool:
    """Is data[start:stop] a line with no conversation in it? Checked in place: no copy, no parse."""
    if data.startswith(b'{"type":"', start, stop):  # queue-operation, last-prompt, … lead with their type
        return data.startswith(SKIP_PREFIXES, start, stop)
    # {"parentUuid":"<uuid>","isSidechain":…,"attachment":{ — the key within the line's first 160 bytes
    return data.find(ATTACHMENT_KEY, start + 40, min(start + 160, stop)) >= 0


class ClaudeCodeSource:
    name = "claude"
    source = "claude_code"
    line_based = True
    takes_views = True
    skip_line = staticmethod(skip_line)

    def default_root(self) -> Path:
        return claude_home() / "projects"

    def discover(self, root: Path) -> list[Path]:
        return discover_files(root, "*.jsonl")

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        return parse_transcript(path, lines)


def _image_ref(block: dict[str, Any]) -> dict[str, Any]:
    """An image kept as a reference (type, size, hash), never its bytes."""
    src = block.get("source") or {}
    data = src.get("data") or ""
    ref: dict[str, Any] = {"type": "image", "media_type": src.get("media_type"), "source_type": src.get("type")}
    if data:
        raw = data.encode() if isinstance(data, str) else data
        ref["sha256"] = hashlib.sha256(raw).hexdigest()
        ref["base64_chars"] = len(raw)
    elif src.get("url"):
        ref["url"] = src["url"]
    return ref


def _content_text(content: Any, images: list[dict[str, Any]]) -> str:
    """Text of a message or tool_result content (str or list of blocks); images go to `images`."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict):
                kind = block.get("type")
                if kind == "text":
                    parts.append(block.get("text") or "")
                elif kind == "image":
                    images.append(_image_ref(block))
                elif kind == "tool_reference" or kind == "document":
                    parts.append(orjson.dumps(block).decode())
    return "\n".join(parts)


class _Builder(TurnBuilder):
    """Accumulates one session's turns from its lines in order."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.pending: dict[str, tuple[Step, str | None]] = {}  # call id → (step, call timestamp)
        self.message_id: str | None = None
        self.message_step: Step | None = None
        self.usage_by_message: dict[str, tuple[Turn, dict[str, Any]]] = {}
        self.models: dict[str, None] = {}

    def turn_opened(self, turn: Turn) -> None:
        self.message_id = None
        self.message_step = None

    # -------------------------------------------------------------------------------------- user lines

    def user(self, obj: dict[str, Any], message: dict[str, Any], ts: str | None) -> None:
        content = message.get("content")
        if obj.get("isCompactSummary"):
            self.add(Step(kind="message", role="system", text=_content_text(content, []), timestamp=ts,
                          meta={"compact_summary": True}))
            return
        if obj.get("isMeta"):
            return  # text the CLI injected for the model (caveats, reminders), not the user's words
        if isinstance(content, list):
            rest = []
            for block in content:  # tool results pair with their calls; anything else is the user's words
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    self.tool_result(obj, block, ts)
                else:
                    rest.append(block)
            if len(rest) < len(content):
                if not rest:
                    return
                content = rest
        images: list[dict[str, Any]] = []
        text = _content_text(content, images)
        if text.startswith(INTERRUPTED):
            meta: dict[str, Any] = {"interrupt": True}
            if images:
                meta["images"] = images
            self.add(Step(kind="message", role="user", text=text, timestamp=ts, meta=meta))
            return
        command = COMMAND_NAME.search(text) if text.startswith("<") else None
        if command or text.startswith("<local-command-stdout>") or text.startswith("<local-command-"):
            meta = {"command": command.group(1).strip() if command else None, "local_command": True}
            self.add(Step(kind="message", role="user", text=text, timestamp=ts, meta=meta))
            return
        turn = self.new_turn(text, ts)
        step_meta: dict[str, Any] = {}
        if images:
            step_meta["images"] = images
        if obj.get("promptId"):
            turn.meta["prompt_id"] = obj["promptId"]
        self.add(Step(kind="message", role="user", text=text, timestamp=ts, meta=step_meta))

    def tool_result(self, obj: dict[str, Any], block: dict[str, Any], ts: str | None) -> None:
        call_id = block.get("tool_use_id")
        images: list[dict[str, Any]] = []
        output = _content_text(block.get("content"), images)
        found = self.pending.pop(call_id, None) if call_id else None
        if found is None:
            step = Step(kind="tool_call", tool_name=None, call_id=call_id, timestamp=ts, meta={"orphan_result": True})
            self.add(step)
            called_at = None
        else:
            step, called_at = found
        step.output = output
        step.is_error = bool(block.get("is_error"))
        detail = obj.get("toolUseResult")
        interrupted = output.startswith(INTERRUPTED)
        if isinstance(detail, dict):
            interrupted = interrupted or bool(detail.get("interrupted"))
            if "stdout" in detail and step.tool_name in ("Bash", "BashOutput"):
                step.meta["stderr_present"] = bool(detail.get("stderr"))
            if detail.get("structuredPatch") is not None:
                step.meta["structured_patch"] = detail["structuredPatch"]
            if detail.get("agentId"):
                step.meta["subagent_session_id"] = f"agent-{detail['agentId']}"
                step.meta["subagent_type"] = detail.get("agentType")
            for key in ("durationMs", "totalDurationMs"):
                if isinstance(detail.get(key), int | float):
                    step.duration_ms = int(detail[key])
        step.interrupted = interrupted
        if images:
            step.meta["images"] = images
        if step.is_error:
            match = EXIT_CODE.match(output)
            step.exit_code = int(match.group(1)) if match else None
        elif step.tool_name == "Bash":
            step.exit_code = 0
        if step.duration_ms is None and called_at and ts:
            step.duration_ms = _ms_between(called_at, ts)
        if ts and self.turn is not None:
            self.turn.ended_at = ts

    # ---------------------------------------------------------------------------------- assistant lines

    def assistant(self, obj: dict[str, Any], message: dict[str, Any], ts: str | None) -> None:
        mid = message.get("id") or obj.get("uuid")
        model = message.get("model")
        if model and model != "<synthetic>":
            self.models[model] = None
        turn = self.ensure_turn(ts)
        if mid != self.message_id:
            self.message_id = mid
            self.message_step = None
        usage = message.get("usage")
        if isinstance(usage, dict) and mid:
            self.usage_by_message[mid] = (turn, usage)  # repeated on every line of a message: keep the last
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        for block in content or []:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind in ("text", "thinking", "redacted_thinking"):
                step = self.message_step
                if step is None or (turn.steps and turn.steps[-1] is not step):
                    step = Step(kind="message", role="assistant", timestamp=ts, model=model)
                    if mid:
                        step.meta[MESSAGE_ID] = mid
                    if obj.get("isApiErrorMessage"):
                        step.meta["api_error"] = True
                    self.add(step)
                    self.message_step = step
                if kind == "text":
                    step.text = f"{step.text}\n{block.get('text') or ''}" if step.text else (block.get("text") or "")
                elif kind == "thinking":
                    value = block.get("thinking") or ""
                    step.thinking = f"{step.thinking}\n{value}" if step.thinking else value
                else:
                    step.meta["redacted_thinking"] = step.meta.get("redacted_thinking", 0) + 1
            elif kind in ("tool_use", "server_tool_use"):
                step = Step(kind="tool_call", tool_name=block.get("name"), call_id=block.get("id"),
                            input=block.get("input"), timestamp=ts, model=model)
                if mid:
                    step.meta[MESSAGE_ID] = mid
                if kind == "server_tool_use":
                    step.meta["server_tool"] = True
                self.add(step)
                if step.call_id:
                    self.pending[step.call_id] = (step, ts)
            elif kind == "web_search_tool_result":
                found = self.pending.pop(block.get("tool_use_id"), None)
                if found:
                    found[0].output = orjson.dumps(block.get("content")).decode()

    def finish(self) -> None:
        for step, _ in self.pending.values():
            step.meta["no_result"] = True
        self.pending.clear()
        for turn, raw in self.usage_by_message.values():
            usage = Usage(
                int(raw.get("input_tokens") or 0), int(raw.get("output_tokens") or 0),
                int(raw.get("cache_read_input_tokens") or 0), int(raw.get("cache_creation_input_tokens") or 0),
            )
            turn.usage.add(usage)
            self.session.usage.add(usage)
        self.session.models = list(self.models)


def _ms_between(start: str, end: str) -> int | None:
    try:  # Python 3.11's fromisoformat reads the trailing "Z" itself
        a = datetime.fromisoformat(start)
        b = datetime.fromisoformat(end)
    except ValueError:
        return None
    return max(0, int((b - a).total_seconds() * 1000))


def _subagent_info(path: str) -> tuple[str | None, dict[str, Any]]:
    """(agent id, meta.json contents) for `.../subagents/agent-<id>.jsonl`, else (None, {})."""
    if "agent-" not in path:  # the common case, without building a Path
        return None, {}
    p = Path(path)
    if p.parent.name != "subagents" or not p.name.startswith("agent-"):
        return None, {}
    agent_id = p.stem[len("agent-"):]
    meta_path = p.with_name(p.stem + ".meta.json")
    meta: dict[str, Any] = {}
    try:
        meta = orjson.loads(meta_path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        pass
    return agent_id, meta if isinstance(meta, dict) else {}


def parse_transcript(path: str, lines: Iterable[Line]) -> ParsedFile:
    """Parse one transcript file into its session (plus sidechain sessions written inline by old versions)."""
    result = ParsedFile()
    file_agent, agent_meta = _subagent_info(path)
    builders: dict[str, _Builder] = {}
    main_key = ""

    def builder_for(key: str, obj: dict[str, Any]) -> _Builder:
        b = builders.get(key)
        if b is None:
            sid = obj.get("sessionId") or Path(path).stem
            if key:  # a subagent / sidechain session
                session = Session(id=key, source="claude_code", parent_id=sid, source_path=path)
                if file_agent:
                    session.meta.update({k: agent_meta[k] for k in ("agentType", "description", "toolUseId",
                                                                    "spawnDepth") if k in agent_meta})
            else:
                session = Session(id=sid, source="claude_code", source_path=path)
            b = builders[key] = _Builder(session)
        return b

    file_key = f"agent-{file_agent}" if file_agent else None
    last_key: str | None = None
    b: _Builder | None = None
    for line_no, obj in json_objects(lines, result.errors):
        kind = obj.get("type")
        if kind not in CONVERSATION_TYPES:
            continue
        if kind == "summary":
            if obj.get("summary"):
                builder_for(main_key, obj).session.title = str(obj["summary"])
            continue
        if file_key:
            key = file_key
        elif obj.get("isSidechain"):
            key = f"agent-{obj['agentId']}" if obj.get("agentId") else f"{obj.get('sessionId') or 'sidechain'}-sidechain"
        else:
            key = main_key
        if key != last_key or b is None:
            b = builder_for(key, obj)
            last_key = key
        s = b.session
        ts = obj.get("timestamp")
        if ts:
            if s.started_at is None or ts < s.started_at:
                s.started_at = ts
            if s.ended_at is None or ts > s.ended_at:
                s.ended_at = ts
        if s.cwd is None and obj.get("cwd"):
            s.cwd = obj["cwd"]
            s.project = obj["cwd"]
        branch = obj.get("gitBranch")
        if branch and branch != "HEAD":
            s.git_branch = branch
        version = obj.get("version")
        if version:
            s.agent_version = version
        try:
            message = obj.get("message")
            if kind == "system":
                _system_line(b, obj, ts)
                continue
            if not isinstance(message, dict):
                result.errors.append((line_no, f"{kind} line without a message object"))
                continue
            if kind == "user":
                b.user(obj, message, ts)
            else:
                b.assistant(obj, message, ts)
        except (TypeError, AttributeError, ValueError) as exc:
            result.errors.append((line_no, f"unexpected {kind} line shape: {exc}"))
    for b in builders.values():
        b.finish()
        result.sessions.append(b.session)
    return result


def _system_line(b: _Builder, obj: dict[str, Any], ts: str | None) -> None:
    subtype = obj.get("subtype")
    if subtype == "compact_boundary":
        b.session.meta["compactions"] = b.session.meta.get("compactions", 0) + 1
        b.add(Step(kind="message", role="system", text="", timestamp=ts,
                   meta={"compact_boundary": obj.get("compactMetadata") or True}))
        return
    content = obj.get("content")
    if isinstance(content, str) and content.strip():
        b.add(Step(kind="message", role="system", text=content, timestamp=ts,
                   meta={"subtype": subtype, "level": obj.get("level")}))
