"""The Parquet and `hf/` copies of a build, written by a helper process started when the build starts.

`import datasets` (pandas, its Arrow glue) costs 1.2-2 s, more than the rest of a small build's write. A
helper process pays it on another core while the build's pipeline runs, and is then handed the split files
(`write.write_copies` runs there). It serves this process's builds one after another — one JSON request per
line on its stdin, one JSON answer per line on its stdout — and leaves when its stdin closes, which this
process's exit does, however it exits. A process that has already imported `datasets` writes the copies
itself: there is nothing left to hide.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson

import bashgym
from bashgym.errors import BashgymError, require


class CopyWriter:
    """One helper process; `write` hands it a build's split files and waits for its answer."""

    def __init__(self) -> None:
        root = str(Path(bashgym.__file__).resolve().parents[1])  # this bashgym, however it was put on the path
        code = f"import sys; sys.path.insert(0, {root!r}); from bashgym.factory.copy_writer import serve; serve()"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._lock = threading.Lock()
        self.served = 0  # requests answered

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def write(self, paths: dict[str, Path], out_dir: Path, *, parquet: bool, hf: bool,
              ) -> tuple[list[str], dict[str, str]]:
        """What `write.write_copies` returns, written by the helper."""
        request = {"paths": {k: str(v) for k, v in paths.items()}, "out_dir": str(out_dir), "parquet": parquet,
                   "hf": hf}
        with self._lock:
            try:
                assert self.proc.stdin is not None and self.proc.stdout is not None
                self.proc.stdin.write(orjson.dumps(request) + b"\n")
                self.proc.stdin.flush()
                line = self.proc.stdout.readline()
            except BrokenPipeError:
                line = b""
            except BaseException:  # interrupted mid-answer: this helper can no longer be trusted to be in step
                self.stop()
                raise
        if not line:
            code = self.proc.wait()
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise BashgymError(f"the helper process writing the Parquet and hf/ copies {how} before it was done "
                               "(out of memory?); the build was not recorded: run it again")
        answer = orjson.loads(line)
        self.served += 1
        if "error" in answer:
            raise BashgymError(f"writing the Parquet and hf/ copies failed: {answer['error']}")
        return answer["files"], answer["sha256"]

    def stop(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        """Let the helper leave (its stdin closed) and wait for it, so its exit is this process's to see. One
        that never got a request (the build stopped early) may still be importing: it is stopped at once."""
        if not self.served:
            self.stop()
            return
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.stop()


_helper: CopyWriter | None = None
_helper_lock = threading.Lock()


def copy_writer() -> CopyWriter | None:
    """This process's helper, started now if none is running (call it early: it warms up while the caller
    works); None when `datasets` is already imported here (the caller writes the copies itself)."""
    global _helper
    require("datasets", "factory")  # the missing extra is this process's error, with the pip command
    if "datasets" in sys.modules:
        return None
    with _helper_lock:
        if _helper is None or not _helper.alive:
            if _helper is None:
                atexit.register(_close)
            _helper = CopyWriter()
        return _helper


def _close() -> None:
    if _helper is not None:
        _helper.close()


def serve() -> None:
    """The helper's loop: import `datasets` at once, then answer requests until stdin closes."""
    from bashgym.factory.write import write_copies

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's to handle: it stops this process
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answers
    import datasets  # noqa: F401  (the cost this process exists to pay early)

    for line in sys.stdin.buffer:
        request = orjson.loads(line)
        try:
            files, sha256 = write_copies({k: Path(v) for k, v in request["paths"].items()},
                                         Path(request["out_dir"]), parquet=request["parquet"], hf=request["hf"])
            answer = {"files": files, "sha256": sha256}
        except Exception as exc:  # noqa: BLE001 - reported to the build, which fails with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(orjson.dumps(answer) + b"\n")
        answers.flush()
    # stdin closed: every answer is written and flushed. Leave at once: the interpreter's teardown of what
    # `datasets` loaded takes 1-2 s, which the build would wait for (and Arrow's thread pools can abort in it).
    os._exit(0)
