"""A scripted OpenAI Responses API server on 127.0.0.1, for driving the real Codex CLI in tests.

A script is a list of replies; each reply is a list of output items (assistant `message`, `reasoning`,
`function_call`, `custom_tool_call`). The server picks the script whose marker appears in the latest user
message and the reply by how many tool outputs came back since it, so one script drives a whole
multi-step turn. Replies stream as SSE: `response.created`, one `response.output_item.done` per item,
`response.completed` with usage. Every request body is kept in `server.requests`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness.local_server import LocalServer, QuietHandler

Item = dict[str, Any]
USAGE = {"input_tokens": 200, "input_tokens_details": {"cached_tokens": 50}, "output_tokens": 40,
         "output_tokens_details": {"reasoning_tokens": 10}, "total_tokens": 240}


def say(text: str) -> Item:
    return {"type": "message", "role": "assistant", "id": f"msg_{uuid.uuid4().hex[:16]}",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def reasoning(summary: str) -> Item:
    return {"type": "reasoning", "id": f"rs_{uuid.uuid4().hex[:16]}",
            "summary": [{"type": "summary_text", "text": summary}]}


def exec_command(cmd: str, call_id: str | None = None) -> Item:
    """The Codex CLI's shell tool (0.169: `exec_command` with `{"cmd": ...}`)."""
    return function_call("exec_command", {"cmd": cmd}, call_id)


def function_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> Item:
    return {"type": "function_call", "id": f"fc_{uuid.uuid4().hex[:16]}", "name": name,
            "arguments": json.dumps(arguments), "call_id": call_id or f"call_{uuid.uuid4().hex[:20]}"}


def custom_tool_call(name: str, input: str, call_id: str | None = None) -> Item:
    return {"type": "custom_tool_call", "id": f"ctc_{uuid.uuid4().hex[:16]}", "name": name, "input": input,
            "call_id": call_id or f"call_{uuid.uuid4().hex[:20]}", "status": "completed"}


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(c.get("text", "") for c in content or [] if isinstance(c, dict))


def _since_last_prompt(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = [i for i in body.get("input") or [] if isinstance(i, dict)]
    last = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
    return items[last:] if last >= 0 else items


def tool_outputs(body: dict[str, Any]) -> int:
    """How many tool results came back since the latest user message (= how far into the script it is)."""
    return sum(1 for item in _since_last_prompt(body) if item.get("type", "").endswith("_output"))


def user_texts(body: dict[str, Any]) -> str:
    """The latest user message's text (a resumed session's requests hold the earlier prompts too)."""
    items = _since_last_prompt(body)
    return _texts(items[0].get("content")) if items and items[0].get("role") == "user" else ""


class ScriptedResponsesServer(LocalServer):
    def __init__(self, scripts: dict[str, list[list[Item]]], model: str = "gpt-5-codex") -> None:
        self.scripts = scripts
        self.model = model
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                self.send_json({"object": "list", "data": [{"id": server.model, "object": "model"}], "models": []})

            def do_POST(self) -> None:  # noqa: N802
                request = self.read_json()
                server.requests.append({"path": self.path, "body": request})
                self.send_events((event["type"], event) for event in server.events(server.reply_for(request)))

        self.serve(Handler)

    @property
    def url(self) -> str:
        return self.root_url

    def reply_for(self, request: dict[str, Any]) -> list[Item]:
        text = user_texts(request)
        for marker, replies in self.scripts.items():
            if marker in text:
                n = tool_outputs(request)
                return replies[n] if n < len(replies) else [say("Done.")]
        return [say("OK.")]

    def events(self, items: list[Item]) -> list[dict[str, Any]]:
        rid = f"resp_{uuid.uuid4().hex[:20]}"
        base = {"id": rid, "object": "response", "model": self.model, "status": "in_progress", "output": []}
        out: list[dict[str, Any]] = [{"type": "response.created", "response": base}]
        for i, item in enumerate(items):
            out.append({"type": "response.output_item.added", "output_index": i, "item": item})
            out.append({"type": "response.output_item.done", "output_index": i, "item": item})
        out.append({"type": "response.completed",
                    "response": dict(base, status="completed", output=items, usage=USAGE)})
        return out
