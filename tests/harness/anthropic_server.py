"""A scripted Anthropic Messages API server on 127.0.0.1, for driving the real Claude Code CLI in tests.

A script is a list of replies; each reply is a list of content blocks (text, thinking, tool_use). The server
picks the script whose marker appears in the request's first user message, and the reply by how many
assistant messages the request already holds — so one script drives a whole multi-step session.
Every request body is recorded in `server.requests` for assertions.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness.local_server import LocalServer, QuietHandler

Block = dict[str, Any]


def text(value: str) -> Block:
    return {"type": "text", "text": value}


def thinking(value: str) -> Block:
    return {"type": "thinking", "thinking": value}


def tool_use(name: str, input: dict[str, Any], id: str | None = None) -> Block:
    return {"type": "tool_use", "id": id or f"toolu_{uuid.uuid4().hex[:20]}", "name": name, "input": input}


def _first_user_text(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict))
    return ""


class ScriptedAnthropicServer(LocalServer):
    def __init__(self, scripts: dict[str, list[list[Block]]], model: str = "claude-sonnet-4-5-20250929",
                 usage: dict[str, int] | None = None) -> None:
        """`usage`: what message_start reports (input, cache reads and writes), for every reply."""
        self.scripts = scripts
        self.model = model
        self.usage = usage or {"input_tokens": 120, "output_tokens": 1}
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(QuietHandler):
            def do_HEAD(self) -> None:  # noqa: N802 - http.server API
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                self.send_json({})

            def do_POST(self) -> None:  # noqa: N802
                request = self.read_json()
                server.requests.append({"path": self.path, "body": request})
                if "count_tokens" in self.path:
                    return self.send_json({"input_tokens": 100})
                blocks = server.reply_for(request)
                if request.get("stream"):
                    return self.send_events(server.events(blocks))
                return self.send_json(server.message(blocks))

        self.serve(Handler)

    @property
    def url(self) -> str:
        return self.root_url

    def reply_for(self, request: dict[str, Any]) -> list[Block]:
        messages = request.get("messages") or []
        if _last_user_text(messages).lstrip().startswith("CRITICAL: Respond with TEXT ONLY"):
            return [text("Summary: the user asked for a file listing and an edit; both were done.")]
        # the latest user text naming a scenario's marker picks the script (a follow-up prompt may name its
        # own, e.g. after a compaction); the reply is the script's n-th, n = assistant messages since then
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].get("role") != "user":
                continue
            said = _first_user_text([messages[i]])
            for marker, replies in self.scripts.items():
                if marker in said:
                    n = sum(1 for m in messages[i:] if m.get("role") == "assistant")
                    return replies[n] if n < len(replies) else [text("Done.")]
        return [text("OK.")]

    def message(self, blocks: list[Block]) -> dict[str, Any]:
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        content = [dict(b, signature="sig") if b["type"] == "thinking" else b for b in blocks]
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 120, "output_tokens": 30, "cache_read_input_tokens": 0,
                      "cache_creation_input_tokens": 0},
        }

    def events(self, blocks: list[Block]) -> list[tuple[str, dict[str, Any]]]:
        message = self.message(blocks)
        out: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": dict(message, content=[], stop_reason=None,
                                                                          usage=dict(self.usage))})
        ]
        for i, block in enumerate(blocks):
            if block["type"] == "text":
                out.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                    "content_block": {"type": "text", "text": ""}}))
                out.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                    "delta": {"type": "text_delta", "text": block["text"]}}))
            elif block["type"] == "thinking":
                out.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                    "content_block": {"type": "thinking", "thinking": ""}}))
                out.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                    "delta": {"type": "thinking_delta", "thinking": block["thinking"]}}))
                out.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                    "delta": {"type": "signature_delta", "signature": "sig"}}))
            else:
                out.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {
                    "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
                out.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                    "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
            out.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        out.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"],
                                                                          "stop_sequence": None},
                                      "usage": {"output_tokens": 30}}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out
