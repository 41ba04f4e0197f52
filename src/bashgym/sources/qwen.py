"""Qwen Code chats (`~/.qwen/projects/<project>/chats/<session id>.jsonl`) → canonical Sessions.

Qwen Code is a Gemini CLI fork, but it records chats its own way: an append-only JSONL of ChatRecords linked
into a tree by `uuid` / `parentUuid` (Claude Code's shape), each holding a Gemini API `Content` in `message`.
The Content parts (text, thought, functionCall, functionResponse) and the shell result text are Gemini's, so
they are read with the Gemini parser's helpers. Facts the parser relies on (`@qwen-code/qwen-code` 0.24.4, its
bundled `ChatRecordingService` and `prepareTranscriptRecords`; recorded in tests/fixtures/qwen/, see
docs/formats.md):
- Record: {uuid, parentUuid, sessionId, timestamp, type: user|assistant|tool_result|system, subtype?, cwd,
  version, gitBranch?, message?: {role, parts}, model?, usageMetadata?, toolCallResult?, systemPayload?}.
- The live conversation is the parentUuid chain that ends at the last conversation record (every record but
  `session_artifact_*` and `session_sources_snapshot` / `managed_session_*`); records a rewind left on a dead
  branch are not on it. Records sharing a uuid are fragments of one message: their parts are concatenated.
- `user` without subtype is a prompt (`systemPayload.displayText`, when a hook added context, is what was
  typed); `mid_turn_user_message` is the user speaking during a turn; other user subtypes (cron,
  notification, goal runtime, ...) are written by the CLI, not typed.
- `assistant`: `model`, `usageMetadata` (Gemini's counts: promptTokenCount includes the cached tokens;
  total - prompt is the output, thoughts included, as Qwen itself counts it; very old versions wrote
  {input, output, cached, thoughts, total}), parts with `thought: true` are reasoning.
- `tool_result`: functionResponse parts ({output} or {error}) plus `toolCallResult` {callId, status,
  resultDisplay}: a shell's resultDisplay has `exitCode`, an edit's or write's has `fileDiff`.
- `system` `ui_telemetry` records carry each tool call's `duration_ms`; `custom_title` the session's title;
  `parent_session` the session a `--fork-session` came from; `chat_compression` marks a compaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bashgym.schema import MESSAGE_ID, SHELL_TOOL_NAMES, Session, Step, Usage
from bashgym.sources.base import Line, ParsedFile, TurnBuilder, json_objects
from bashgym.sources.gemini import content_text, set_tool_result

NOT_CONVERSATION = frozenset({"session_artifact_event", "session_artifact_snapshot", "session_sources_snapshot",
                              "managed_session_header_v1", "managed_session_event_v1", "managed_session_commit_v1"})
RECORD_TYPES = ("user", "assistant", "tool_result", "system")
HOOK_CONTEXT_OPEN = "<qwen:user-prompt-submit-context>"


def qwen_home() -> Path:
    """Where Qwen Code keeps its runtime data: QWEN_RUNTIME_DIR, else QWEN_HOME, else ~/.qwen (its own order)."""
    return Path(os.environ.get("QWEN_RUNTIME_DIR") or os.environ.get("QWEN_HOME") or Path.home() / ".qwen")


class QwenSource:
    name = "qwen"
    source = "qwen"
    line_based = True  # append-only; every import re-derives the chain from all of the file's lines

    def default_root(self) -> Path:
        return qwen_home() / "projects"

    def discover(self, root: Path) -> list[Path]:
        """Chat files (`chats/*.jsonl`, archived ones in `chats/archive/`), not the `*.runtime.json` state."""
        if root.is_file():
            return [root]
        if not root.exists():
            return []
        return sorted(p for p in root.rglob("*.jsonl") if p.is_file() and "chats" in p.relative_to(root).parts)

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        result = ParsedFile()
        records = []
        for line_no, record in json_objects(lines, result.errors):
            if record.get("type") not in RECORD_TYPES:
                result.errors.append((line_no, f"not a Qwen Code chat record (type {record.get('type')!r})"))
            elif not isinstance(record.get("uuid"), str) or not record["uuid"]:
                result.errors.append((line_no, "Qwen Code chat record without a uuid"))
            else:
                records.append(record)
        session = build_session(path, records)
        if session is not None:
            result.sessions.append(session)
        return result


def active_chain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the live conversation, oldest first: the parentUuid chain from the last conversation
    record, fragments of one uuid merged (what Qwen Code itself replays on `--resume`)."""
    fragments: dict[str, list[dict[str, Any]]] = {}
    leaf = None
    for record in records:
        if record.get("type") == "system" and record.get("subtype") in NOT_CONVERSATION:
            continue
        uuid = record.get("uuid")
        if isinstance(uuid, str) and uuid:
            fragments.setdefault(uuid, []).append(record)
            leaf = uuid
    chain, seen = [], set()
    while leaf and leaf in fragments and leaf not in seen:
        seen.add(leaf)
        chain.append(_merge(fragments[leaf]))
        leaf = fragments[leaf][0].get("parentUuid")
    chain.reverse()
    return chain


def _merge(fragments: list[dict[str, Any]]) -> dict[str, Any]:
    base = dict(fragments[0])
    for more in fragments[1:]:
        if isinstance(more.get("message"), dict):
            old = base.get("message") if isinstance(base.get("message"), dict) else {}
            base["message"] = {"role": old.get("role") or more["message"].get("role"),
                               "parts": [*(old.get("parts") or []), *(more["message"].get("parts") or [])]}
        for key in ("usageMetadata", "toolCallResult", "model"):
            if more.get(key) and (key == "usageMetadata" or not base.get(key)):
                base[key] = more[key]
        if (more.get("timestamp") or "") > (base.get("timestamp") or ""):
            base["timestamp"] = more["timestamp"]
    return base


def _parts(record: dict[str, Any]) -> list[Any]:
    message = record.get("message")
    parts = message.get("parts") if isinstance(message, dict) else None
    return parts if isinstance(parts, list) else []


def qwen_usage(meta: Any) -> Usage:
    """bashgym's usage from an assistant record's usageMetadata (input without cache reads, output with
    reasoning)."""
    if not isinstance(meta, dict):
        return Usage()
    if "promptTokenCount" in meta or "candidatesTokenCount" in meta:
        prompt, out = int(meta.get("promptTokenCount") or 0), int(meta.get("candidatesTokenCount") or 0)
        thoughts, cached = int(meta.get("thoughtsTokenCount") or 0), int(meta.get("cachedContentTokenCount") or 0)
    else:  # the early TokensSummary form
        prompt, out = int(meta.get("input") or 0), int(meta.get("output") or 0)
        thoughts, cached = int(meta.get("thoughts") or 0), int(meta.get("cached") or 0)
    total = meta.get("totalTokenCount", meta.get("total"))
    output = int(total) - prompt if isinstance(total, int) and total >= prompt + out else out + thoughts
    return Usage(input_tokens=max(0, prompt - cached), output_tokens=output, cache_read_tokens=cached)


def _prompt_text(record: dict[str, Any]) -> str:
    payload = record.get("systemPayload")
    if isinstance(payload, dict) and isinstance(payload.get("displayText"), str):
        return payload["displayText"]
    parts = [p for p in _parts(record) if not (isinstance(p, dict) and isinstance(p.get("text"), str)
                                                 and p["text"].strip().startswith(HOOK_CONTEXT_OPEN))]
    return content_text(parts)


class _Builder(TurnBuilder):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.calls: dict[str, Step] = {}
        self.models: dict[str, None] = {}

    def user(self, record: dict[str, Any], ts: str | None) -> None:
        subtype = record.get("subtype")
        if subtype is None:
            text = _prompt_text(record)
            turn = self.new_turn(text, ts)
            turn.meta["message_id"] = record.get("uuid")
            self.add(Step(kind="message", role="user", text=text, timestamp=ts))
        elif subtype == "mid_turn_user_message":
            self.add(Step(kind="message", role="user", text=_prompt_text(record), timestamp=ts,
                          meta={"subtype": subtype}))
        else:  # written by the CLI (cron, notifications, goal runtime): context, not typed
            self.add(Step(kind="message", role="system", text=content_text(_parts(record)), timestamp=ts,
                          meta={"subtype": subtype}))

    def assistant(self, record: dict[str, Any], ts: str | None) -> None:
        model = record.get("model")
        if model:
            self.models[model] = None
        parts = _parts(record)
        mid = {MESSAGE_ID: record["uuid"]} if record.get("uuid") else {}
        text = content_text(parts)
        thinking = "\n".join(p["text"] for p in parts if isinstance(p, dict) and p.get("thought")
                             and isinstance(p.get("text"), str))
        if text or thinking:
            self.add(Step(kind="message", role="assistant", text=text, thinking=thinking, timestamp=ts, model=model,
                          meta=dict(mid)))
        for part in parts:
            call = part.get("functionCall") if isinstance(part, dict) else None
            if not isinstance(call, dict):
                continue
            args = call.get("args")
            step = Step(kind="tool_call", tool_name=call.get("name"), call_id=call.get("id"),
                        input=dict(args) if isinstance(args, dict) else args, timestamp=ts, model=model,
                        meta={**mid, "no_result": True})
            self.add(step)
            if step.call_id:
                self.calls[step.call_id] = step
        usage = qwen_usage(record.get("usageMetadata"))
        self.ensure_turn(ts).usage.add(usage)
        self.session.usage.add(usage)

    def tool_result(self, record: dict[str, Any], ts: str | None) -> None:
        info = record.get("toolCallResult") if isinstance(record.get("toolCallResult"), dict) else {}
        for part in _parts(record):
            response = part.get("functionResponse") if isinstance(part, dict) else None
            if not isinstance(response, dict):
                continue
            call_id = response.get("id") or info.get("callId")
            step = self.calls.get(call_id or "")
            if step is None:
                step = Step(kind="tool_call", tool_name=response.get("name"), call_id=call_id, timestamp=ts,
                            meta={"orphan_result": True})
                self.add(step)
            step.meta.pop("no_result", None)
            status = info.get("status") if info.get("callId", call_id) == call_id else None
            step.is_error = status == "error"
            step.interrupted = status == "cancelled"
            set_tool_result(step, [part])
            if status:
                step.meta["status"] = status
            display = info.get("resultDisplay") if info.get("callId", call_id) == call_id else None
            if isinstance(display, dict):
                if isinstance(display.get("exitCode"), int) and step.tool_name in SHELL_TOOL_NAMES:
                    step.exit_code = display["exitCode"]
                    step.is_error = step.is_error or step.exit_code != 0
                if display.get("fileDiff"):
                    step.meta["file_diff"] = display["fileDiff"]
            if ts and self.turn is not None:
                self.turn.ended_at = max(self.turn.ended_at or ts, ts)

    def system(self, record: dict[str, Any], ts: str | None) -> None:
        subtype, payload = record.get("subtype"), record.get("systemPayload")
        payload = payload if isinstance(payload, dict) else {}
        if subtype == "ui_telemetry":
            event = payload.get("uiEvent") if isinstance(payload.get("uiEvent"), dict) else {}
            step = self.calls.get(event.get("call_id") or "")
            if step is not None and isinstance(event.get("duration_ms"), int):
                step.duration_ms = event["duration_ms"]
        elif subtype == "chat_compression":
            self.add(Step(kind="message", role="system", text="(the conversation was compressed)", timestamp=ts,
                          meta={"subtype": subtype, "compaction": True}))


def build_session(path: str, records: list[dict[str, Any]]) -> Session | None:
    """One chat file's session, or None when it holds no conversation (a file the CLI created and left empty)."""
    chain = active_chain(records)
    if not chain:
        return None
    first = chain[0]
    session = Session(id=str(first.get("sessionId") or Path(path).stem), source="qwen", source_path=path,
                      started_at=first.get("timestamp"), ended_at=chain[-1].get("timestamp"),
                      cwd=first.get("cwd"), project=first.get("cwd"), git_branch=first.get("gitBranch"),
                      agent_version=next((r["version"] for r in reversed(chain) if r.get("version")), None))
    for record in records:  # titles and fork origin hold whatever branch they were written on
        payload = record.get("systemPayload") if isinstance(record.get("systemPayload"), dict) else {}
        if record.get("subtype") == "custom_title" and payload.get("customTitle"):
            session.title = payload["customTitle"]
        elif record.get("subtype") == "parent_session" and payload.get("parentSessionId"):
            session.meta["forked_from"] = payload["parentSessionId"]
    builder = _Builder(session)
    handlers = {"user": builder.user, "assistant": builder.assistant, "tool_result": builder.tool_result,
                "system": builder.system}
    for record in chain:
        handlers[record["type"]](record, record.get("timestamp"))
    session.models = list(builder.models)
    return session
