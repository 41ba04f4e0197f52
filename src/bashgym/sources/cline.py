"""Cline CLI sessions (`~/.cline/data/sessions/<id>/<id>.messages.json`) → canonical Sessions.

Facts the parser relies on (npm `cline` 3.0.65, run here: tests/fixtures/cline/, see docs/formats.md):
- `<id>.messages.json`: {version, updated_at, agent, sessionId, origin {source, mode, version}, messages,
  system_prompt}. Messages are Anthropic-style: {id, role: user|assistant, content: [blocks], ts (epoch ms),
  modelInfo {id, provider}, metrics {inputTokens (cached included), outputTokens, cacheReadTokens,
  cacheWriteTokens}}; blocks `text`, `thinking` {thinking}, `tool_use` {id, name, input}, `tool_result`
  {tool_use_id, name, content}.
- A prompt is a user text block `<user_input mode="act|plan">PROMPT</user_input>`.
- `run_commands` {commands: [...]} answers a list [{query, result, error?, success}], one per command;
  a failed one's result starts `[Command exited with code N]`. `editor` and other tools answer a JSON string
  {query, result, success} (an edit's result holds a ```diff block).
- `<id>.json` beside it: {session_id, started_at, ended_at, status, exit_code, provider, model, cwd,
  workspace_root, prompt, metadata {title, usage}}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from bashgym.schema import MESSAGE_ID, Session, Step, Usage
from bashgym.sources.base import Line, ParsedFile, TurnBuilder, iso_from_epoch_ms

USER_INPUT = re.compile(r'\A<user_input mode="([^"]*)">(.*)</user_input>\Z', re.S)
EXIT_CODE = re.compile(r"\A\[Command exited with code (-?\d+)\]")
DIFF_BLOCK = re.compile(r"```diff\n(.*?)```", re.S)
SHELL_TOOL = "run_commands"


class ClineSource:
    name = "cline"
    source = "cline"
    line_based = False  # the messages file is rewritten whole

    def default_root(self) -> Path:
        import os

        data = os.environ.get("CLINE_DATA_DIR") or Path(os.environ.get("CLINE_DIR") or Path.home() / ".cline") / "data"
        return Path(data) / "sessions"

    def discover(self, root: Path) -> list[Path]:
        if root.is_file():
            return [root]
        if not root.exists():
            return []
        return sorted(p for p in root.rglob("*.messages.json") if p.is_file())

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        result = ParsedFile()
        data = b"\n".join(bytes(raw) for _, raw in lines)
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            result.errors.append((1, f"invalid JSON document ({exc})"))
            return result
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            shape = ", ".join(sorted(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
            result.errors.append((1, f"not a Cline session messages file: no `messages` list (found: {shape})"))
            return result
        result.sessions.append(build_session(path, doc, _sidecar(path)))
        return result


def _sidecar(path: str) -> dict[str, Any]:
    """The session's `<id>.json` metadata beside its messages file ({} when absent or unreadable)."""
    p = Path(path)
    try:
        meta = orjson.loads(p.with_name(p.name.removesuffix(".messages.json") + ".json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _blocks(message: dict[str, Any]) -> list[Any]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def cline_usage(metrics: Any) -> Usage:
    """bashgym's usage from a message's metrics (their inputTokens include the cache reads)."""
    if not isinstance(metrics, dict):
        return Usage()
    cached = int(metrics.get("cacheReadTokens") or 0)
    return Usage(input_tokens=max(0, int(metrics.get("inputTokens") or 0) - cached),
                 output_tokens=int(metrics.get("outputTokens") or 0), cache_read_tokens=cached,
                 cache_creation_tokens=int(metrics.get("cacheWriteTokens") or 0))


class _Builder(TurnBuilder):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.calls: dict[str, list[Step]] = {}
        self.models: dict[str, None] = {}

    def user(self, message: dict[str, Any], ts: str | None) -> None:
        for block in _blocks(message):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                self.result(block, ts)
            elif block.get("type") == "text" and isinstance(block.get("text"), str):
                match = USER_INPUT.match(block["text"].strip())
                text = match.group(2) if match else block["text"]
                turn = self.new_turn(text, ts)
                turn.meta["message_id"] = message.get("id")
                if match:
                    turn.meta["mode"] = match.group(1)
                self.add(Step(kind="message", role="user", text=text, timestamp=ts))

    def assistant(self, message: dict[str, Any], ts: str | None) -> None:
        model = (message.get("modelInfo") or {}).get("id") if isinstance(message.get("modelInfo"), dict) else None
        if model:
            self.models[model] = None
        mid = {MESSAGE_ID: message["id"]} if message.get("id") else {}
        blocks = [b for b in _blocks(message) if isinstance(b, dict)]
        text = "\n".join(b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str))
        thinking = "\n".join(b["thinking"] for b in blocks if b.get("type") == "thinking"
                             and isinstance(b.get("thinking"), str))
        if text or thinking:
            self.add(Step(kind="message", role="assistant", text=text, thinking=thinking, timestamp=ts, model=model,
                          meta=dict(mid)))
        for block in blocks:
            if block.get("type") != "tool_use":
                continue
            call_id, args = block.get("id"), block.get("input")
            commands = args.get("commands") if isinstance(args, dict) and block.get("name") == SHELL_TOOL else None
            if isinstance(commands, list) and commands:
                # One step per command, so each has its own exit code; `meta.call` keeps what the model sent.
                steps = [Step(kind="tool_call", tool_name=SHELL_TOOL, input={"command": str(cmd)}, timestamp=ts,
                              model=model, call_id=call_id if len(commands) == 1 else f"{call_id}#{i}",
                              meta={**mid, "no_result": True, "call": {"id": call_id, "index": i, "of": len(commands)}})
                         for i, cmd in enumerate(commands)]
            else:
                steps = [Step(kind="tool_call", tool_name=block.get("name"), call_id=call_id, input=args, timestamp=ts,
                              model=model, meta={**mid, "no_result": True})]
            for step in steps:
                self.add(step)
            if call_id:
                self.calls[call_id] = steps
        usage = cline_usage(message.get("metrics"))
        self.ensure_turn(ts).usage.add(usage)
        self.session.usage.add(usage)

    def result(self, block: dict[str, Any], ts: str | None) -> None:
        steps = self.calls.get(block.get("tool_use_id") or "")
        if steps is None:
            steps = [Step(kind="tool_call", tool_name=block.get("name"), call_id=block.get("tool_use_id"),
                          timestamp=ts, meta={"orphan_result": True})]
            self.add(steps[0])
        content = block.get("content")
        if isinstance(content, str):
            try:
                content = orjson.loads(content)
            except orjson.JSONDecodeError:
                content = {"result": content}
        items = content if isinstance(content, list) else [content]
        if len(items) != len(steps):  # not one answer per command: the whole answer on the first step
            items = [{"result": "\n".join(_result_text(i) for i in items),
                      "success": all(isinstance(i, dict) and i.get("success", True) for i in items)}]
            steps = steps[:1]
        for step, item in zip(steps, items, strict=True):
            step.meta.pop("no_result", None)
            step.output = _result_text(item)
            ok = item.get("success", not item.get("error")) if isinstance(item, dict) else True
            step.is_error = not ok or bool(block.get("is_error"))
            if step.tool_name == SHELL_TOOL:
                code = EXIT_CODE.match(step.output)
                step.exit_code = int(code.group(1)) if code else (0 if ok else None)
            diff = DIFF_BLOCK.search(step.output)
            if diff and step.tool_name == "editor":
                step.meta["file_diff"] = diff.group(1)
        if ts and self.turn is not None:
            self.turn.ended_at = max(self.turn.ended_at or ts, ts)


def _result_text(item: Any) -> str:
    if isinstance(item, dict):
        value = item.get("result", item.get("error"))
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    return item if isinstance(item, str) else orjson.dumps(item).decode()


def build_session(path: str, doc: dict[str, Any], meta: dict[str, Any]) -> Session:
    origin = doc.get("origin") if isinstance(doc.get("origin"), dict) else {}
    extra = meta.get("metadata") if isinstance(meta.get("metadata"), dict) else {}
    session = Session(id=str(doc.get("sessionId") or meta.get("session_id") or Path(path).parent.name),
                      source="cline", source_path=path, cwd=meta.get("cwd"),
                      project=meta.get("workspace_root") or meta.get("cwd"), agent_version=origin.get("version"),
                      title=extra.get("title"), started_at=meta.get("started_at"),
                      ended_at=meta.get("ended_at") or doc.get("updated_at"))
    for key in ("agent", "provider", "status", "exit_code"):
        value = doc.get(key) if key == "agent" else meta.get(key)
        if value is not None:
            session.meta[key] = value
    builder = _Builder(session)
    for message in doc["messages"]:
        if not isinstance(message, dict):
            continue
        ts = iso_from_epoch_ms(message["ts"]) if isinstance(message.get("ts"), (int, float)) else None
        if message.get("role") == "user":
            builder.user(message, ts)
        elif message.get("role") == "assistant":
            builder.assistant(message, ts)
    session.models = list(builder.models)
    if session.started_at is None and session.turns:
        session.started_at = session.turns[0].started_at
    return session
