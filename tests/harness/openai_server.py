"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (a real http.server in a thread).

`policy(body)` decides each answer from the request body: return a message dict (`content`, optional
`tool_calls`, optional `reasoning_content` as reasoning models send it) for a 200 completion, or an `(http_status, text)` tuple for an error. With
`tools_supported=False` any request carrying `tools` is answered 400, like an endpoint without tool
support. Every request body is kept in `server.requests`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

from harness.local_server import LocalServer, QuietHandler

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


class ScriptedOpenAIServer(LocalServer):
    def __init__(self, policy: Policy, *, tools_supported: bool = True) -> None:
        self.policy = policy
        self.tools_supported = tools_supported
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802
                body = self.read_json()
                with server._lock:
                    server.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    return self.send_json({"error": {"message": f"no route {self.path}"}}, 404)
                if "tools" in body and not server.tools_supported:
                    return self.send_json({"error": {"message": "tools are not supported by this server"}}, 400)
                answer = server.policy(body)
                if isinstance(answer, tuple):
                    return self.send_json({"error": {"message": answer[1]}}, answer[0])
                message = {"role": "assistant", "content": answer.get("content")}
                if answer.get("tool_calls"):
                    message["tool_calls"] = answer["tool_calls"]
                if answer.get("reasoning_content"):
                    message["reasoning_content"] = answer["reasoning_content"]
                self.send_json({
                    "id": "chatcmpl-" + uuid.uuid4().hex[:8], "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": "tool_calls" if answer.get("tool_calls") else "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                })

        self.serve(Handler)
        self.url = f"{self.root_url}/v1"
