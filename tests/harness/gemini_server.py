"""A scripted Gemini API server on 127.0.0.1, for driving the real Gemini CLI in tests.

The CLI (through @google/genai) streams every agent step: `POST /v1beta/models/<model>:streamGenerateContent
?alt=sse` with {contents, systemInstruction, tools, generationConfig}. The answer is SSE, `data: <chunk>` per
event, each chunk a GenerateContentResponse {candidates: [{content: {role: "model", parts}, finishReason?}],
usageMetadata?, modelVersion, responseId}; the last chunk carries finishReason and usageMetadata.

The reply is `replies[n]`, n = the number of `role: "model"` contents already in the request (one per earlier
step), so a script is simply the steps in order. Every request (method, path, body) is kept in
`server.requests`; anything but streamGenerateContent (the router's or a summariser's `:generateContent`,
`:countTokens`) is answered 404, so a test can see that nothing else was asked.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness.local_server import LocalServer, QuietHandler

Reply = dict[str, Any]


def usage(prompt: int, candidates: int, cached: int = 0, thoughts: int = 0) -> dict[str, int]:
    """A Gemini usageMetadata: promptTokenCount includes the cached tokens; thoughts are counted apart."""
    out = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
           "totalTokenCount": prompt + candidates + thoughts}
    if cached:
        out["cachedContentTokenCount"] = cached
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    return out


def function_call(name: str, args: dict[str, Any], usage: dict[str, int], thought: str | None = None) -> Reply:
    """A step that calls one tool (no call id, as the Gemini API sends them), optionally after a thought."""
    parts: list[dict[str, Any]] = [{"text": thought, "thought": True}] if thought else []
    return {"parts": [*parts, {"functionCall": {"name": name, "args": args}}], "usage": usage}


def say(text: str, usage: dict[str, int]) -> Reply:
    return {"parts": [{"text": text}], "usage": usage}


def chunks(reply: Reply, model: str) -> list[dict[str, Any]]:
    """The streamed GenerateContentResponse chunks of one reply: one part per chunk, the last one with
    finishReason and usageMetadata."""
    response_id = uuid.uuid4().hex[:16]
    out = []
    parts = reply["parts"]
    for i, part in enumerate(parts):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
        if i == len(parts) - 1:
            candidate["finishReason"] = "STOP"
            chunk["usageMetadata"] = reply["usage"]
        out.append(chunk)
    return out


class ScriptedGeminiServer(LocalServer):
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.record(None)
                self.send_json({"error": {"code": 404, "message": f"no route GET {self.path}"}}, 404)

            def do_POST(self) -> None:  # noqa: N802
                body = self.read_json()
                self.record(body)
                route, _, query = self.path.partition("?")
                model, _, method = route.removeprefix("/v1beta/models/").partition(":")
                if method != "streamGenerateContent" or query != "alt=sse":
                    return self.send_json({"error": {"code": 404, "message": f"no route {self.path}"}}, 404)
                step = sum(1 for c in body.get("contents", []) if c.get("role") == "model")
                if step >= len(server.replies):
                    return self.send_json({"error": {"code": 500, "message": f"the script has no reply {step}"}},
                                          500)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in chunks(server.replies[step], model):
                    self.wfile.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self.serve(Handler)
        self.url = self.root_url
