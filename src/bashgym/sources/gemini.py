"""Gemini CLI chats and checkpoints (`~/.gemini/tmp/<project>/…`) → canonical Sessions.

Facts the parser relies on (google-gemini/gemini-cli 0.56.0-nightly.20260806, commit 5411f113,
`packages/core/src/services/chatRecordingService.ts` + `chatRecordingTypes.ts`, `core/logger.ts`,
`utils/checkpointUtils.ts`; see docs/formats.md):
- `chats/session-<date>-<short id>.jsonl` (current): line 1 is the metadata {sessionId, projectHash,
  startTime, lastUpdated, kind}; then MessageRecords {id, timestamp, type, content, …}. A message is
  appended again, whole, each time it changes (same id: it replaces the earlier one in place);
  `{"$set": {...}}` updates metadata (with `messages`: the whole list is replaced); `{"$rewindTo": id}`
  drops that message and everything after it. Subagents write `chats/<parent session id>/<id>.jsonl`.
- `chats/session-*.json` (before the JSONL change): one ConversationRecord {sessionId, …, messages}.
- MessageRecord.type: user | gemini | info | error | warning. Gemini messages carry `thoughts`
  [{subject, description, timestamp}], `tokens` {input, output, cached, thoughts, tool, total}, `model`,
  and `toolCalls` [{id, name, args, result (Parts with functionResponse.response {output|error}),
  status (success|error|cancelled|…), timestamp, resultDisplay}].
- What the real CLI 0.61.0 writes (run here, tests/test_gemini_cli_e2e.py): the main session's metadata has
  no `directories` (its `<session_context>` user message lists the workspace directories; that message and
  `<hook_context>` ones are context, not prompts); every tool-result turn is a `user` record of
  functionResponse parts (the results are on the gemini record's `toolCalls` as well); `--resume` appends a
  second metadata line and a `$set` of `messages` rebuilt from API history (gemini records without
  toolCalls/tokens/thoughts/model, functionCall and thought parts in `content`, every timestamp the resume's).
- `checkpoint-<tag>.json` (`/chat save`): a Content[] list or {history: Content[]}; `checkpoints/*.json`
  (restorable tool calls): {history, clientHistory: Content[], toolCall, commitHash, messageId}. Content is
  the Gemini API's {role: user|model, parts: [{text}|{thought}|{functionCall}|{functionResponse}]}.

Files are rewritten as well as appended, so the source is not line based: a changed file is re-read whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.sources.base import Line, ParsedFile, json_objects

EXIT_CODE = re.compile(r"Exit Code: (-?\d+)")
SHELL_TOOL = "run_shell_command"
# User messages the CLI writes for the model, not typed by the user (the CLI skips them too when it rebuilds a
# chat's history: `isIgnoredUserContent`).
INJECTED_PREFIXES = ("<session_context>", "<hook_context>")
WORKSPACE_DIRS = re.compile(r"^- \*\*Workspace Directories:\*\*\n((?:  - .+\n?)+)", re.M)


class GeminiSource:
    name = "gemini"
    source = "gemini"
    line_based = False

    def default_root(self) -> Path:
        return Path.home() / ".gemini" / "tmp"

    def discover(self, root: Path) -> list[Path]:
        if root.is_file():
            return [root]
        if not root.exists():
            return []
        found = []
        for p in root.rglob("*.json*"):
            if not p.is_file() or p.suffix not in (".json", ".jsonl"):
                continue
            parts = p.relative_to(root).parts
            if "chats" in parts or p.name.startswith("checkpoint-") or p.parent.name == "checkpoints":
                found.append(p)
        return sorted(found)

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        data = b"\n".join(raw for _, raw in lines)
        return parse_gemini_file(path, data)


def _parts(content: Any) -> list[Any]:
    if content is None:
        return []
    if isinstance(content, list):
        return content
    return [content]


def content_text(content: Any) -> str:
    """Text of a PartListUnion (str | Part | Part[]), thoughts and function parts left out."""
    out = []
    for part in _parts(content):
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought"):
            out.append(part["text"])
    return "\n".join(out)


def _response_output(result: Any) -> tuple[str | None, bool]:
    """(output text, is_error) from a tool call's result Parts."""
    if result is None:
        return None, False
    texts, error = [], False
    for part in _parts(result):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            response = (part.get("functionResponse") or {}).get("response")
            if isinstance(response, dict):
                if "error" in response:
                    error = True
                    texts.append(str(response["error"]))
                elif "output" in response:
                    value = response["output"]
                    texts.append(value if isinstance(value, str) else orjson.dumps(value).decode())
                else:
                    texts.append(orjson.dumps(response).decode())
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts), error


def _thinking(thoughts: Any) -> str:
    out = []
    for t in thoughts or []:
        if isinstance(t, dict):
            subject, description = t.get("subject") or "", t.get("description") or ""
            out.append(f"**{subject}** {description}".strip() if subject else description)
    return "\n".join(out)


def set_tool_result(step: Step, result: Any) -> None:
    """A tool step's output, error flag and (shell) exit code from its result Parts."""
    step.output, error = _response_output(result)
    step.is_error = step.is_error or error
    if step.tool_name == SHELL_TOOL and step.output is not None and not step.interrupted:
        code = shell_exit_code(step.output)
        step.exit_code = code if code is not None else (None if step.is_error else 0)
        if step.exit_code not in (None, 0):
            step.is_error = True


def _tool_step(call: dict[str, Any], model: str | None) -> Step:
    args = call.get("args")
    status = call.get("status")
    step = Step(kind="tool_call", tool_name=call.get("name"), call_id=call.get("id"),
                input=dict(args) if isinstance(args, dict) else args, timestamp=call.get("timestamp"),
                model=model, is_error=status == "error", interrupted=status == "cancelled")
    set_tool_result(step, call.get("result"))
    step.meta["status"] = status
    if call.get("agentId"):
        step.meta["subagent_session_id"] = call["agentId"]
    display = call.get("resultDisplay")
    if isinstance(display, dict) and display.get("fileDiff"):
        step.meta["file_diff"] = display["fileDiff"]
    if step.output is None and status not in ("cancelled",):
        step.meta["no_result"] = True
    return step


def _function_responses(content: Any) -> list[dict[str, Any]]:
    return [p for p in _parts(content) if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]


def shell_exit_code(output: str) -> int | None:
    """N from the last `Exit Code: N` line of a shell result. The line follows the command's output (which may
    print such a line itself), so it is searched from the end: fast on long outputs, and the right one."""
    at = len(output)
    while (at := output.rfind("Exit Code: ", 0, at)) >= 0:
        if at == 0 or output[at - 1] == "\n":
            match = EXIT_CODE.match(output, at)
            if match:
                return int(match.group(1))
    return None


def _usage(tokens: Any) -> Usage:
    if not isinstance(tokens, dict):
        return Usage()
    cached = int(tokens.get("cached") or 0)
    return Usage(input_tokens=max(0, int(tokens.get("input") or 0) - cached),
                 output_tokens=int(tokens.get("output") or 0) + int(tokens.get("thoughts") or 0),
                 cache_read_tokens=cached)


def build_from_records(session: Session, messages: list[dict[str, Any]]) -> None:
    """Turns from MessageRecords (the recording service's own model of a conversation).

    Besides prompts, `user` records hold the CLI's injected context (skipped) and, since 0.5x, each tool-result
    turn (functionResponse parts: the results are on the calls already; they only fill a call that has none).
    A `gemini` record rebuilt from API history (after `--resume`) has functionCall and thought parts in its
    content instead of `toolCalls` and `thoughts`."""
    turn: Turn | None = None
    models: dict[str, None] = {}
    calls: dict[str, Step] = {}

    def ensure(ts: str | None) -> Turn:
        nonlocal turn
        if turn is None:
            turn = Turn(index=len(session.turns), started_at=ts, ended_at=ts)
            session.turns.append(turn)
        return turn

    for msg in messages:
        kind, ts = msg.get("type"), msg.get("timestamp")
        if kind == "user":
            responses = _function_responses(msg.get("content"))
            if responses:
                for part in responses:
                    _attach_response(ensure(ts), calls, part["functionResponse"], part)
                continue
            text = content_text(msg.get("content"))
            if text.lstrip().startswith(INJECTED_PREFIXES):
                continue
            turn = Turn(index=len(session.turns), prompt=text, started_at=ts, ended_at=ts,
                        meta={"message_id": msg.get("id")})
            session.turns.append(turn)
            turn.steps.append(Step(kind="message", role="user", text=text, timestamp=ts))
            continue
        t = ensure(ts)
        if kind == "gemini":
            model = msg.get("model")
            if model:
                models[model] = None
            content = msg.get("content")
            text, thinking = content_text(content), _thinking(msg.get("thoughts"))
            if not thinking:
                thinking = "\n".join(p["text"] for p in _parts(content) if isinstance(p, dict) and p.get("thought")
                                     and isinstance(p.get("text"), str))
            mid = {MESSAGE_ID: msg["id"]} if msg.get("id") else {}
            if text or thinking:
                t.steps.append(Step(kind="message", role="assistant", text=text, thinking=thinking, timestamp=ts,
                                    model=model, meta=dict(mid)))
            tool_calls = [c for c in msg.get("toolCalls") or [] if isinstance(c, dict)]
            if not tool_calls:  # rebuilt from API history: the calls are parts of the content, results come later
                tool_calls = [dict(p["functionCall"], timestamp=ts) for p in _parts(content)
                              if isinstance(p, dict) and isinstance(p.get("functionCall"), dict)]
            for call in tool_calls:
                step = _tool_step(call, model)
                step.meta.update(mid)
                t.steps.append(step)
                if step.call_id:
                    calls[step.call_id] = step
            usage = _usage(msg.get("tokens"))
            t.usage.add(usage)
            session.usage.add(usage)
        elif kind in ("info", "error", "warning"):
            t.steps.append(Step(kind="message", role="system", text=content_text(msg.get("content")), timestamp=ts,
                                meta={"level": kind}))
        if ts:
            t.ended_at = max(t.ended_at or ts, ts)
    session.models = list(models)


def _attach_response(turn: Turn, calls: dict[str, Step], response: dict[str, Any], part: Any) -> None:
    """A tool-result user record: fills its call when the call has no result yet; an unknown call's result
    becomes a step of its own."""
    step = calls.get(response.get("id") or "")
    if step is None:
        step = Step(kind="tool_call", tool_name=response.get("name"), call_id=response.get("id"),
                    meta={"orphan_result": True})
        turn.steps.append(step)
        if step.call_id:
            calls[step.call_id] = step
    elif step.output is not None:
        return
    step.meta.pop("no_result", None)
    set_tool_result(step, [part])


def build_from_contents(session: Session, contents: list[Any]) -> None:
    """Turns from Gemini API Content[] (checkpoints keep the client history in this form)."""
    turn: Turn | None = None
    calls: dict[str, Step] = {}
    for n, content in enumerate(contents):
        if not isinstance(content, dict):
            continue
        role, parts = content.get("role"), content.get("parts") or []
        responses = [p for p in parts if isinstance(p, dict) and "functionResponse" in p]
        if role == "user" and not responses:
            text = "\n".join(p.get("text") or "" for p in parts if isinstance(p, dict))
            turn = Turn(index=len(session.turns), prompt=text)
            session.turns.append(turn)
            turn.steps.append(Step(kind="message", role="user", text=text))
            continue
        if turn is None:
            turn = Turn(index=len(session.turns))
            session.turns.append(turn)
        for part in parts:
            if not isinstance(part, dict):
                continue
            if "functionCall" in part:
                fc = part["functionCall"] or {}
                call_id = fc.get("id") or f"call-{n}-{fc.get('name')}"
                step = Step(kind="tool_call", tool_name=fc.get("name"), call_id=call_id, input=fc.get("args"))
                step.meta["no_result"] = True
                calls[call_id] = step
                turn.steps.append(step)
            elif "functionResponse" in part:
                fr = part["functionResponse"] or {}
                step = calls.get(fr.get("id")) or next(
                    (s for s in reversed(turn.steps) if s.kind == "tool_call" and s.output is None
                     and s.tool_name == fr.get("name")), None)
                if step is None:
                    step = Step(kind="tool_call", tool_name=fr.get("name"), call_id=fr.get("id"),
                                meta={"orphan_result": True})
                    turn.steps.append(step)
                step.meta.pop("no_result", None)
                step.is_error = False
                set_tool_result(step, [part])
            elif part.get("thought") and isinstance(part.get("text"), str):
                turn.steps.append(Step(kind="message", role="assistant", thinking=part["text"]))
            elif isinstance(part.get("text"), str) and role == "model":
                turn.steps.append(Step(kind="message", role="assistant", text=part["text"]))


def _replay_jsonl(path: str, data: bytes, result: ParsedFile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metadata and live messages of a JSONL chat, applying updates, `$set` and `$rewindTo` in order.

    A `$set` of `messages` decides which messages remain, in what order; a message appended earlier under the same
    id keeps its record (on `--resume` the CLI rewrites the list from its API history, which drops `toolCalls`,
    `tokens`, `thoughts` and `model` and stamps every message with the resume time). A repeated metadata line
    (written on resume) does not move `startTime`."""
    meta: dict[str, Any] = {}
    messages: dict[str, dict[str, Any]] = {}
    appended: dict[str, dict[str, Any]] = {}
    for line_no, record in json_objects(enumerate(data.split(b"\n"), start=1), result.errors):
        if isinstance(record.get("$rewindTo"), str):
            ids = list(messages)
            cut = ids.index(record["$rewindTo"]) if record["$rewindTo"] in ids else 0
            for mid in ids[cut:]:
                del messages[mid]
        elif isinstance(record.get("$set"), dict):
            update = record["$set"]
            if isinstance(update.get("messages"), list):
                messages = {}
                for m in update["messages"]:
                    if isinstance(m, dict) and "id" in m:
                        old = appended.get(m["id"])
                        messages[m["id"]] = old if old is not None and old.get("type") == m.get("type") else m
            meta.update({k: v for k, v in update.items() if k != "messages"})
        elif isinstance(record.get("id"), str) and "type" in record:
            messages[record["id"]] = record  # a re-appended message replaces the old one in place
            appended[record["id"]] = record
        elif "sessionId" in record:
            meta.update({k: v for k, v in record.items() if k != "messages"
                         and not (k == "startTime" and meta.get("startTime"))})
            for m in record.get("messages") or []:
                if isinstance(m, dict) and "id" in m:
                    messages[m["id"]] = m
        else:
            result.errors.append((line_no, f"unknown record (keys: {', '.join(sorted(record)[:8])})"))
    return meta, list(messages.values())


def _stable_id(prefix: str, path: str) -> str:
    p = Path(path)
    return f"{prefix}-{hashlib.sha1(str(p.parent.parent.name + '/' + p.name).encode()).hexdigest()[:16]}"


def parse_gemini_file(path: str, data: bytes) -> ParsedFile:
    """One Gemini file → its session (chat recording, `/chat save` checkpoint, or restorable checkpoint)."""
    result = ParsedFile()
    p = Path(path)
    if p.suffix == ".jsonl":
        meta, messages = _replay_jsonl(path, data, result)
    else:
        try:
            doc = orjson.loads(data) if data.strip() else None
        except orjson.JSONDecodeError as exc:
            result.errors.append((1, f"invalid JSON document ({exc})"))
            return result
        if isinstance(doc, dict) and "sessionId" in doc:
            meta, messages = {k: v for k, v in doc.items() if k != "messages"}, doc.get("messages") or []
        elif isinstance(doc, list) or (isinstance(doc, dict) and ("history" in doc or "clientHistory" in doc)):
            return _parse_checkpoint(path, doc, result)
        else:
            shape = ", ".join(sorted(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
            result.errors.append((1, f"not a Gemini chat or checkpoint (found: {shape})"))
            return result
    if not meta.get("sessionId") and not messages:
        return result
    session = Session(id=str(meta.get("sessionId") or p.stem), source="gemini", source_path=path,
                      started_at=meta.get("startTime"), ended_at=meta.get("lastUpdated"),
                      title=meta.get("summary"))
    session.meta["project_hash"] = meta.get("projectHash")
    directories = meta.get("directories") or _workspace_directories(messages)
    if directories:
        session.meta["directories"] = directories
        session.cwd = session.project = directories[0]
    if meta.get("kind") == "subagent" or (p.parent.name != "chats" and p.parent.parent.name == "chats"):
        session.parent_id = p.parent.name
        session.meta["kind"] = "subagent"
        if session.id == session.parent_id:
            session.id = f"{session.parent_id}-{p.stem}"
    build_from_records(session, [m for m in messages if isinstance(m, dict)])
    if not session.turns and session.meta.get("kind") != "subagent":
        # No conversation, only metadata and the injected <session_context>: the stub the CLI starts when a
        # `--resume` begins in a later minute than the chat's file name (it then appends to the resumed file).
        # Its session id is the resumed chat's, so storing it would replace that chat with an empty one.
        return result
    result.sessions.append(session)
    return result


def _workspace_directories(messages: list[Any]) -> list[str]:
    """The workspace directories a main session's `<session_context>` message lists (its metadata has no
    `directories`; only subagents' does)."""
    first = next((m for m in messages if isinstance(m, dict) and m.get("type") == "user"), None)
    text = content_text(first.get("content")) if first else ""
    found = WORKSPACE_DIRS.search(text) if text.startswith("<session_context>") else None
    return [line[4:] for line in found.group(1).splitlines()] if found else []


def _parse_checkpoint(path: str, doc: Any, result: ParsedFile) -> ParsedFile:
    p = Path(path)
    if isinstance(doc, list):
        contents, kind = doc, "chat_save"
    else:
        contents = doc.get("clientHistory") if isinstance(doc.get("clientHistory"), list) else doc.get("history")
        kind = "restorable_tool_call" if "toolCall" in doc else "chat_save"
    if not isinstance(contents, list) or not all(isinstance(c, dict) and "parts" in c for c in contents):
        result.errors.append((1, "checkpoint history is not a list of Gemini Content objects {role, parts}"))
        return result
    session = Session(id=_stable_id("gemini-checkpoint", path), source="gemini", source_path=path, title=p.stem)
    session.meta.update({"checkpoint": kind, "project_hash": p.parent.name if kind == "chat_save" else
                         p.parent.parent.name})
    if isinstance(doc, dict):
        if doc.get("commitHash"):
            session.meta["snapshot_commit"] = doc["commitHash"]
        if isinstance(doc.get("toolCall"), dict):
            session.meta["pending_tool_call"] = doc["toolCall"]
    build_from_contents(session, contents)
    result.sessions.append(session)
    return result
