"""A Hub-compatible HTTP server on 127.0.0.1 for `dataset push` tests: the endpoints huggingface_hub's
create_repo + upload_folder call (repo create, README YAML check, preupload, NDJSON commit), keeping what
was uploaded in memory. Every file is accepted in "regular" mode, so no LFS round trip is needed."""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, bytes]] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                hub.requests.append(("GET", self.path, self.headers.get("Authorization")))
                self._send(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append(("POST", self.path, self.headers.get("Authorization")))
                base = f"http://127.0.0.1:{self.server.server_port}"
                if self.path == "/api/repos/create":
                    d = json.loads(body)
                    repo = f"{d['organization']}/{d['name']}" if d.get("organization") else d["name"]
                    hub.repos[repo] = d
                    return self._send(200, {"url": f"{base}/datasets/{repo}"})
                if self.path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                m = re.match(r"/api/datasets/(.+)/(preupload|commit)/([^/?]+)", self.path)
                if m and m.group(2) == "preupload":
                    files = json.loads(body)["files"]
                    return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                       "shouldIgnore": False} for f in files]})
                if m:
                    repo = m.group(1)
                    for line in body.decode().splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            hub.files.setdefault(repo, {})[item["value"]["path"]] = base64.b64decode(
                                item["value"]["content"])
                    oid = "c" * 40
                    return self._send(200, {"commitUrl": f"{base}/datasets/{repo}/commit/{oid}", "commitOid": oid})
                self._send(404, {"error": self.path})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
