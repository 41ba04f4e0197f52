"""Record a real OpenCode CLI session for the fixtures.

    python tests/harness/make_opencode_fixtures.py OUT_DIR

Runs the real `opencode run` (npm `opencode-ai`, the locked version) headless against the scripted
chat-completions server: one model message making two calls at once (bash, read), then an edit after their
results, then the answer. OpenCode leaves everything in `opencode.db-wal`; the database is copied with
SQLite's backup API into OUT_DIR/opencode.db (one self-contained file, the same rows). The committed copy is
tests/fixtures/opencode/opencode.db.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.chat_stream_server import ScriptedChatStreamServer, say, tool_call, usage  # noqa: E402
from harness.opencode_cli import data_dir, opencode_bin, run_opencode  # noqa: E402

PROMPT = "[OC2] Count the lines of notes.txt and show it, then replace beta with gamma."


def script(work: Path) -> list[dict]:
    notes = str(work / "notes.txt")
    both = {"content": "Looking at it first.", "usage": usage(900, 30),
            "tool_calls": [{"id": "call_wc", "name": "bash", "arguments": json.dumps({"command": "wc -l notes.txt"})},
                           {"id": "call_read", "name": "read", "arguments": json.dumps({"filePath": notes})}]}
    edit = tool_call("edit", {"filePath": notes, "oldString": "beta", "newString": "gamma"}, "call_edit",
                     usage(1000, 20))
    return [both, edit, say("notes.txt has 2 lines; beta is now gamma.", usage(1100, 12))]


def main(out: Path) -> None:
    opencode = opencode_bin()
    if opencode is None:
        raise SystemExit("npm is needed to install the OpenCode CLI")
    with tempfile.TemporaryDirectory() as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        (work / "notes.txt").write_text("alpha\nbeta\n")
        with ScriptedChatStreamServer(script(work), title="Count and edit notes") as server:
            result = run_opencode(opencode, PROMPT, home=home, cwd=work, base_url=server.url,
                                  model="scripted-coder-1")
        if result.returncode != 0 or (work / "notes.txt").read_text() != "alpha\ngamma\n":
            raise SystemExit(f"the session did not run as scripted:\n{result.stdout}\n{result.stderr}")
        out.mkdir(parents=True, exist_ok=True)
        target = out / "opencode.db"
        target.unlink(missing_ok=True)
        src = sqlite3.connect(data_dir(home) / "opencode.db")
        dst = sqlite3.connect(target)
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.close()
        src.close()
    print(f"recorded {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
