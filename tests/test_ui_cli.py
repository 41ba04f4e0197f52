"""`bashgym ui` as a user runs it: a real process serving HTTP, loopback by default, a token elsewhere."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bashgym.cli", "ui", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"http://\S+", line)
    assert match, line
    return proc, match.group()


def _get(url: str, **kw: object) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, timeout=5, **kw)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_ui_serves_on_loopback_without_token() -> None:
    proc, url = _serve()
    try:
        assert url.startswith("http://127.0.0.1:") and "token" not in url
        r = _get(url.rstrip("/") + "/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ui_on_other_host_prints_token_and_requires_it() -> None:
    proc, url = _serve("--host", "0.0.0.0")
    try:
        port = re.search(r":(\d+)/", url).group(1)
        token = re.search(r"token=([\w-]+)", url).group(1)
        base = f"http://127.0.0.1:{port}"
        assert _get(base + "/sessions").status_code == 401
        assert _get(base + "/sessions", headers={"X-Bashgym-Token": token}).status_code == 200
        assert _get(f"{base}/sessions?token={token}").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
