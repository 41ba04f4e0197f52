"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (a real http.server in a thread).

`policy(body)` decides each answer from the request body: return a message dict (`content`, optional
`tool_calls`) for a 200 completion, or an `(http_status, text)` tuple for an error. With
`tools_supported=False` any request carrying `tools` is answered 400, like an endpoint without tool
support. Every request body is kept in `server.requests`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Policy = Callable[[dict[str, Any]], "dict[str, Any] | tuple[int, str]"]


def bash_call(command: str) -> dict[str, Any]:
    """An assistant message calling the bash tool."""
    return {
        "content": None,
        "tool_calls": [{
            "id": f"call_{uuid.uuid4().hex[:10]}", "type": "function",
            "function": {"name": "bash", "arguments": json.dumps({"command": command})},
        }],
    }


def say(text: str) -> dict[str, Any]:
    return {"content": text}


def first_user_text(body: dict[str, Any]) -> str:
    return next((m.get("content") or "" for m in body["messages"] if m["role"] == "user"), "")


def assistant_turns(body: dict[str, Any]) -> int:
    return sum(1 for m in body["messages"] if m["role"] == "assistant")


class ScriptedOpenAIServer:
    def __init__(self, policy: Policy, *, tools_supported: bool = True) -> None:
        self.policy = policy
        self.tools_supported = tools_supported
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if "tools" in body and not server.tools_supported:
                    return self._send(400, {"error": {"message": "tools are not supported by this server"}})
                answer = server.policy(body)
                if isinstance(answer, tuple):
                    return self._send(answer[0], {"error": {"message": answer[1]}})
                message = {"role": "assistant", "content": answer.get("content")}
                if answer.get("tool_calls"):
                    message["tool_calls"] = answer["tool_calls"]
                self._send(200, {
                    "id": "chatcmpl-" + uuid.uuid4().hex[:8], "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": "tool_calls" if answer.get("tool_calls") else "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
