"""What every scripted API server of the test harness shares: a threaded HTTP server on 127.0.0.1 (free
port), started and stopped as a context manager, and replies as JSON or as server-sent events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return {"undecodable": len(raw)}

    def record(self, body: Any) -> None:
        """Keep this request (method, path, JSON body) in the owning server's `requests`."""
        owner: LocalServer = self.server.owner  # type: ignore[attr-defined]
        with owner.lock:
            owner.requests.append({"method": self.command, "path": self.path, "body": body})

    def send_json(self, value: Any, status: int = 200) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_events(self, events: Iterable[tuple[str, Any]]) -> None:
        """An SSE stream of (event name, JSON data), then the connection closes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True


class LocalServer:
    """Base for the scripted servers: subclasses call `serve(handler_class)` in __init__."""

    requests: list[dict[str, Any]]  # what QuietHandler.record kept, in arrival order

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.requests = getattr(self, "requests", [])
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
