"""A scripted Anthropic Messages API server on 127.0.0.1, for driving the real Claude Code CLI in tests.

A script is a list of replies; each reply is a list of content blocks (text, thinking, tool_use). The server
picks the script whose marker appears in the request's first user message, and the reply by how many
assistant messages the request already holds — so one script drives a whole multi-step session.
Every request body is recorded in `server.requests` for assertions.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


class ScriptedAnthropicServer:
    def __init__(self, scripts: dict[str, list[list[Block]]], model: str = "claude-sonnet-4-5-20250929") -> None:
        self.scripts = scripts
        self.model = model
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - http.server API
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "body": request})
                if "count_tokens" in self.path:
                    return self._json({"input_tokens": 100})
                blocks = server.reply_for(request)
                if request.get("stream"):
                    return self._stream(blocks)
                return self._json(server.message(blocks))

            def _json(self, value: Any) -> None:
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, blocks: list[Block]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for event, data in server.events(blocks):
                    self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ScriptedAnthropicServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reply_for(self, request: dict[str, Any]) -> list[Block]:
        messages = request.get("messages") or []
        if _last_user_text(messages).lstrip().startswith("CRITICAL: Respond with TEXT ONLY"):
            return [text("Summary: the user asked for a file listing and an edit; both were done.")]
        first = _first_user_text(messages)
        for marker, replies in self.scripts.items():
            if marker in first:
                n = sum(1 for m in messages if m.get("role") == "assistant")
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
                                                                          usage={"input_tokens": 120, "output_tokens": 1})})
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
