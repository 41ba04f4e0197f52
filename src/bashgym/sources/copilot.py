"""GitHub Copilot CLI sessions (`~/.copilot/session-state/<session id>/events.jsonl`) → canonical Sessions.

The CLI records every session as an append-only JSONL of session events (`--resume` appends to the same
file). Facts the parser relies on (npm `@github/copilot` 1.0.102, run here against a scripted server:
tests/fixtures/copilot/; the event schema ships with the CLI as `schemas/session-events.schema.json`; see
docs/formats.md):
- Every line is `{type, data, id, timestamp, parentId}`; `ephemeral` events (deltas, idle) are not persisted.
- `session.start` {sessionId, copilotVersion, selectedModel, context {cwd, gitRoot, branch, headCommit,
  repository}}; `session.resume` {context, selectedModel} when a later run continues the session.
- `user.message` {content (what was typed), transformedContent (with the CLI's date wrapper), attachments,
  source (set when the CLI or an agent wrote it, not a person), isAutopilotContinuation}: a typed one opens a turn.
- `system.message`: the system prompt, repeated for each prompt (not a step; kept raw, never parsed).
- `assistant.message` {messageId, model, content, reasoningText, toolRequests [{toolCallId, name, arguments}]}:
  one per model call.
- A subagent (the `task` tool) runs in the same file: `subagent.started` {toolCallId, agentName, agentType},
  then its prompt as a `user.message` with `source: "agent-<session id>"`, then its events, each carrying
  `parentToolCallId` (in `usage` for usage records), then `subagent.completed` and the task call's result.
- `tool.execution_start` {toolCallId, toolName, arguments} and `tool.execution_complete` {toolCallId, success,
  result {content, detailedContent (a git diff for edits)}, error {message}, shellExecution {exitCode},
  fileEdits}: a shell's `content` ends with `<shellId: N completed with exit code X>`.
- `session.usage_record` {usage {model, inputTokens (cache reads and writes included, whatever the provider),
  outputTokens (reasoning included), cacheReadTokens, cacheWriteTokens, reasoningTokens, duration}}: one per
  model call.
- `session.compaction_complete` {summaryContent}, `abort` {reason}, `session.error` {errorType, message},
  `session.title_changed` {title}, `session.model_change` {newModel}, `session.shutdown` {codeChanges},
  `session.snapshot_rewind` {upToEventId, eventIds}: a rewind withdraws the events it names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from bashgym.schema import MESSAGE_ID, SHELL_TOOL_NAMES, Session, Step, Usage
from bashgym.sources.base import Line, ParsedFile, TurnBuilder, json_objects

EVENTS_FILE = "events.jsonl"
SHELL_TRAILER = re.compile(r"<shellId: [^>]* with exit code (-?\d+)>\s*\Z")
EDIT_TOOLS = frozenset({"edit", "create", "apply_patch", "write"})
_SYSTEM_MESSAGE = b'{"type":"system.message"'


def copilot_home() -> Path:
    """Where the CLI keeps its state: COPILOT_HOME, else ~/.copilot (its own rule)."""
    return Path(os.environ.get("COPILOT_HOME") or Path.home() / ".copilot")


def _skip_system_message(data: bytes, start: int, stop: int) -> bool:
    """The system prompt (tens of KB per prompt) is kept raw but never parsed."""
    return data.startswith(_SYSTEM_MESSAGE, start, stop)


class CopilotSource:
    name = "copilot"
    source = "copilot"
    line_based = True  # append-only; every import re-derives the session from all of the file's lines
    skip_line = staticmethod(_skip_system_message)

    def default_root(self) -> Path:
        return copilot_home() / "session-state"

    def discover(self, root: Path) -> list[Path]:
        if root.is_file():
            return [root]
        if not root.exists():
            return []
        return sorted(p for p in root.rglob(EVENTS_FILE) if p.is_file())

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        result = ParsedFile()
        events = []
        for line_no, event in json_objects(lines, result.errors):
            if not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
                result.errors.append((line_no, "not a Copilot CLI session event (no `type` and `data` object)"))
            else:
                events.append(event)
        result.sessions.extend(build_sessions(path, live_events(events)))
        return result


def live_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events still in the conversation: those a `session.snapshot_rewind` withdrew are left out (its
    `eventIds`, or without them every event from `upToEventId` up to the rewind)."""
    removed: set[str] = set()
    for i, event in enumerate(events):
        if event["type"] != "session.snapshot_rewind":
            continue
        ids = event["data"].get("eventIds")
        if isinstance(ids, list):
            removed.update(x for x in ids if isinstance(x, str))
            continue
        first = event["data"].get("upToEventId")
        start = next((j for j in range(i) if events[j].get("id") == first), None)
        if start is not None:
            removed.update(str(e.get("id")) for e in events[start:i])
    return [e for e in events if e.get("id") not in removed] if removed else events


def copilot_usage(usage: Any) -> Usage:
    """bashgym's usage from a `session.usage_record`'s usage. Copilot's inputTokens hold the cache reads and
    writes whatever the provider (measured: OpenAI's prompt_tokens as sent; Anthropic's input + cache_read +
    cache_creation summed); bashgym's input holds neither."""
    if not isinstance(usage, dict):
        return Usage()
    prompt, read = int(usage.get("inputTokens") or 0), int(usage.get("cacheReadTokens") or 0)
    written = int(usage.get("cacheWriteTokens") or 0)
    return Usage(input_tokens=max(0, prompt - read - written), output_tokens=int(usage.get("outputTokens") or 0),
                 cache_read_tokens=read, cache_creation_tokens=written)


def _ms_between(start: str | None, end: str | None) -> int | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))  # type: ignore[union-attr]
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return None
    return max(0, round((b - a).total_seconds() * 1000))


class _Builder(TurnBuilder):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.calls: dict[str, Step] = {}
        self.started: dict[str, str] = {}
        self.models: dict[str, None] = {}

    def note_model(self, model: Any) -> None:
        if isinstance(model, str) and model:
            self.models[model] = None

    def user_message(self, data: dict[str, Any], ts: str | None, typed: bool = False) -> None:
        """A prompt opens a turn (`typed`: a subagent's prompt, written by its parent agent); a message the CLI
        or another agent wrote is a system step."""
        text = data.get("content") if isinstance(data.get("content"), str) else ""
        meta: dict[str, Any] = {}
        if data.get("attachments"):
            meta["attachments"] = data["attachments"]
        if not typed and (data.get("source") or data.get("isAutopilotContinuation")):
            meta["source"] = data.get("source") or "autopilot"
            self.add(Step(kind="message", role="system", text=text, timestamp=ts, meta=meta))
            return
        if data.get("source"):
            meta["source"] = data["source"]
        turn = self.new_turn(text, ts)
        turn.meta["message_id"] = data.get("messageId")
        self.add(Step(kind="message", role="user", text=text, timestamp=ts, meta=meta))

    def assistant_message(self, data: dict[str, Any], ts: str | None) -> None:
        model = data.get("model") if isinstance(data.get("model"), str) else None
        self.note_model(model)
        base: dict[str, Any] = {MESSAGE_ID: data["messageId"]} if data.get("messageId") else {}
        text = data.get("content") if isinstance(data.get("content"), str) else ""
        thinking = data.get("reasoningText") if isinstance(data.get("reasoningText"), str) else ""
        if text or thinking:
            self.add(Step(kind="message", role="assistant", text=text, thinking=thinking, timestamp=ts, model=model,
                          meta=dict(base)))
        for request in data.get("toolRequests") or []:
            if not isinstance(request, dict):
                continue
            call_id = request.get("toolCallId")
            step = Step(kind="tool_call", tool_name=request.get("name"), call_id=call_id,
                        input=request.get("arguments"), timestamp=ts, model=model, meta={**base, "no_result": True})
            self.add(step)
            if isinstance(call_id, str):
                self.calls[call_id] = step

    def tool_start(self, data: dict[str, Any], ts: str | None) -> None:
        call_id = data.get("toolCallId")
        if isinstance(call_id, str) and ts:
            self.started[call_id] = ts

    def tool_complete(self, data: dict[str, Any], ts: str | None) -> None:
        call_id = data.get("toolCallId") if isinstance(data.get("toolCallId"), str) else ""
        step = self.calls.get(call_id)
        if step is None:  # a call the user asked for (`!cmd`) or one whose request was not recorded
            step = Step(kind="tool_call", tool_name=data.get("toolName"), call_id=call_id or None, timestamp=ts,
                        meta={"orphan_result": True})
            self.add(step)
        step.meta.pop("no_result", None)
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        output = result.get("content") if isinstance(result.get("content"), str) else error.get("message")
        step.is_error = data.get("success") is False
        shell = data.get("shellExecution") if isinstance(data.get("shellExecution"), dict) else {}
        if step.tool_name in SHELL_TOOL_NAMES and isinstance(output, str):
            found = SHELL_TRAILER.search(output)
            if found:
                output = output[: found.start()]
                step.exit_code = int(found.group(1))
        if isinstance(shell.get("exitCode"), int):
            step.exit_code = shell["exitCode"]
        if step.exit_code not in (None, 0):
            step.is_error = True
        step.output = output if isinstance(output, str) else None
        if error.get("code"):
            step.meta["error_code"] = error["code"]
        detailed = result.get("detailedContent")
        if isinstance(detailed, str) and (data.get("fileEdits") or step.tool_name in EDIT_TOOLS) and \
                detailed.lstrip().startswith("diff --git"):
            step.meta["file_diff"] = detailed.lstrip("\n")
        if data.get("fileEdits"):
            step.meta["file_edits"] = data["fileEdits"]
        step.duration_ms = _ms_between(self.started.get(call_id), ts)
        if ts and self.turn is not None:
            self.turn.ended_at = max(self.turn.ended_at or ts, ts)

    def usage_record(self, data: dict[str, Any], ts: str | None) -> None:
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        self.note_model(usage.get("model"))
        counted = copilot_usage(usage)
        self.ensure_turn(ts).usage.add(counted)
        self.session.usage.add(counted)

    def compaction(self, data: dict[str, Any], ts: str | None) -> None:
        if data.get("success") is False:
            return
        self.add(Step(kind="message", role="system", text=data.get("summaryContent") or "(the conversation was "
                      "compacted)", timestamp=ts, meta={"compaction": True}))

    def abort(self, data: dict[str, Any], ts: str | None) -> None:
        turn = self.ensure_turn(ts)
        turn.meta["aborted"] = data.get("reason") or True
        for step in turn.tool_calls:
            if step.meta.pop("no_result", None):
                step.interrupted = True

    def error(self, data: dict[str, Any], ts: str | None) -> None:
        self.ensure_turn(ts).meta.setdefault("errors", []).append(
            {"type": data.get("errorType"), "message": data.get("message"), "timestamp": ts})


SUBAGENT_SEP = "-sub-"  # a subagent's session id: <parent session id>-sub-<the task call's id>


def _owner(data: dict[str, Any]) -> str | None:
    """The task call a subagent's event belongs to (None: the main agent's)."""
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    owner = data.get("parentToolCallId") or usage.get("parentToolCallId")
    return owner if isinstance(owner, str) and owner else None


def build_sessions(path: str, events: list[dict[str, Any]]) -> list[Session]:
    """One events file's session and one child session per subagent it ran (`parent_id` set, its task call's
    step naming it in `meta.subagent_session_id`); none when the file holds no conversation."""
    start = next((e for e in events if e["type"] == "session.start"), None)
    if not any(e["type"] in ("user.message", "assistant.message") for e in events):
        return []
    info = start["data"] if start else {}
    context = info.get("context") if isinstance(info.get("context"), dict) else {}
    session = Session(id=str(info.get("sessionId") or Path(path).parent.name), source="copilot", source_path=path,
                      started_at=info.get("startTime") or events[0].get("timestamp"),
                      ended_at=events[-1].get("timestamp"), cwd=context.get("cwd"),
                      project=context.get("gitRoot") or context.get("cwd"), git_branch=context.get("branch"),
                      git_commit=context.get("headCommit"), agent_version=info.get("copilotVersion"))
    if context.get("repository"):
        session.meta["repository"] = context["repository"]
    main = _Builder(session)
    children: dict[str, _Builder] = {}
    unprompted: list[str] = []  # subagents started whose prompt (a user.message from "agent-...") is still to come
    for event in events:
        kind, data, ts = event["type"], event["data"], event.get("timestamp")
        if kind == "subagent.started" and isinstance(data.get("toolCallId"), str):
            call_id = data["toolCallId"]
            child = Session(id=f"{session.id}{SUBAGENT_SEP}{call_id}", source="copilot", source_path=path,
                            parent_id=session.id, started_at=ts, ended_at=ts, cwd=session.cwd, project=session.project,
                            git_branch=session.git_branch, git_commit=session.git_commit,
                            agent_version=session.agent_version,
                            title=data.get("agentDisplayName") or data.get("agentDescription"),
                            meta={"agent_name": data.get("agentName"), "agent_type": data.get("agentType")})
            children[call_id] = _Builder(child)
            unprompted.append(call_id)
            task = main.calls.get(call_id)
            if task is not None:
                task.meta.update(subagent_session_id=child.id, subagent_type=data.get("agentType"))
            continue
        owner = _owner(data)
        if kind == "user.message" and str(data.get("source") or "").startswith("agent-") and unprompted:
            owner = unprompted.pop(0)
            children[owner].user_message(data, ts, typed=True)
            continue
        builder = children.get(owner, main) if owner else main
        if ts and builder is not main:
            builder.session.ended_at = ts
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(builder, data, ts)
        elif kind == "session.title_changed" and data.get("title"):
            session.title = data["title"]
        elif kind == "session.shutdown" and isinstance(data.get("codeChanges"), dict):
            session.meta["code_changes"] = data["codeChanges"]
        elif kind == "session.model_change":
            main.note_model(data.get("newModel"))
    session.models = list(main.models) or ([info["selectedModel"]] if info.get("selectedModel") else [])
    for child in children.values():
        child.session.models = list(child.models)
    return [session, *(c.session for c in children.values())]


_HANDLERS = {"user.message": _Builder.user_message, "assistant.message": _Builder.assistant_message,
             "tool.execution_start": _Builder.tool_start, "tool.execution_complete": _Builder.tool_complete,
             "session.usage_record": _Builder.usage_record, "session.compaction_complete": _Builder.compaction,
             "abort": _Builder.abort, "session.error": _Builder.error}
