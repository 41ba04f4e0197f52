"""A scripted, streaming OpenAI-compatible chat-completions server on 127.0.0.1, for driving the real
OpenCode CLI in tests.

OpenCode (through the AI SDK's openai-compatible provider) always asks for `stream: true` with
`stream_options.include_usage`, so every answer is SSE: `data: <chat.completion.chunk>` lines (a content
delta, or one delta per tool call with its whole arguments), a chunk with `finish_reason`, a usage chunk with
empty `choices`, then `data: [DONE]`.

Requests that carry `tools` are the agent's steps: the reply is `replies[n]`, n = the number of assistant
messages already in the request (one per earlier step). Requests without tools are OpenCode's title
generator (small model): answered with `title`. Every request (method, path, body) is kept in
`server.requests`; anything but `POST .../chat/completions` is answered 404.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness.local_server import LocalServer, QuietHandler

Reply = dict[str, Any]


def tool_call(name: str, arguments: dict[str, Any], call_id: str, usage: dict[str, int] | None = None) -> Reply:
    return {"tool_calls": [{"id": call_id, "name": name, "arguments": json.dumps(arguments)}], "usage": usage}


def say(text: str, usage: dict[str, int] | None = None) -> Reply:
    return {"content": text, "usage": usage}


def reasoning(reply: Reply, text: str) -> Reply:
    """The same reply preceded by reasoning, streamed as `delta.reasoning_content` (vLLM, DashScope, DeepSeek)."""
    return {**reply, "reasoning": text}


def usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """An OpenAI usage object: prompt_tokens include the cached ones, completion_tokens the reasoning ones."""
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


def chunks(reply: Reply) -> list[dict[str, Any]]:
    """The chat.completion.chunk payloads (without id/model) that stream one reply."""
    out: list[dict[str, Any]] = []
    if reply.get("reasoning"):
        out.append({"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": reply["reasoning"]},
                                 "finish_reason": None}]})
    if reply.get("content"):
        out.append({"choices": [{"index": 0, "delta": {"role": "assistant", "content": reply["content"]},
                                 "finish_reason": None}]})
    for i, call in enumerate(reply.get("tool_calls") or []):
        function = {"name": call["name"], "arguments": call["arguments"]}
        out.append({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": i, "id": call["id"], "type": "function", "function": function}]}, "finish_reason": None}]})
    finish = "tool_calls" if reply.get("tool_calls") else "stop"
    out.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    out.append({"choices": [], "usage": reply.get("usage") or usage(100, 10)})
    return out


def _first_user_text(messages: list[Any]) -> str:
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class ScriptedChatStreamServer(LocalServer):
    def __init__(self, replies: list[Reply], *, title: str = "Scripted session",
                 subagents: dict[str, list[Reply]] | None = None) -> None:
        """`subagents`: marker → replies, for requests whose first user message holds the marker (a subagent the
        agent spawned, with its own conversation); every other request with tools gets `replies`."""
        self.replies = replies
        self.subagents = subagents or {}
        self.title = title
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.record(None)
                self.send_json({"error": {"message": f"no route GET {self.path}"}}, 404)

            def do_POST(self) -> None:  # noqa: N802
                body = self.read_json()
                self.record(body)
                if not self.path.endswith("/chat/completions"):
                    return self.send_json({"error": {"message": f"no route {self.path}"}}, 404)
                if body.get("tools"):
                    messages = body.get("messages", [])
                    first = _first_user_text(messages)
                    script = next((r for marker, r in server.subagents.items() if marker in first), server.replies)
                    step = sum(1 for m in messages if m.get("role") == "assistant")
                    if step >= len(script):
                        return self.send_json({"error": {"message": f"the script has no reply {step}"}}, 500)
                    reply = script[step]
                else:
                    reply = say(server.title)
                if not body.get("stream"):
                    return self.send_json({"error": {"message": "this server only streams"}}, 400)
                self.stream(body.get("model"), reply)

            def stream(self, model: str | None, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                cid = "chatcmpl-" + uuid.uuid4().hex[:12]
                for chunk in chunks(reply):
                    payload = {"id": cid, "object": "chat.completion.chunk", "created": 1, "model": model, **chunk}
                    self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.serve(Handler)
        self.url = f"{self.root_url}/v1"
