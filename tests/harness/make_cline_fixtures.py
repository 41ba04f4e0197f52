"""Record a real Cline CLI session for the scripted scenario.

    python tests/harness/make_cline_fixtures.py OUT_DIR

Runs the CLI (npm `cline` 3.0.x) against the scripted streaming chat-completions server in a temporary HOME:
one prompt (reasoning, a shell command, an edit, a new file, a failing shell command, a reply), and copies
`~/.cline/data/sessions/<id>/` to OUT_DIR exactly as the CLI left it. The committed copy lives in
tests/fixtures/cline/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.chat_stream_server import ScriptedChatStreamServer, reasoning, say, tool_call, usage  # noqa: E402
from harness.cline_cli import cline_bin, cline_sessions, run_cline  # noqa: E402
from harness.recording import record  # noqa: E402

MODEL = "cline-scripted-1"
PROMPT = '[CL1] How many lines does "notes.txt" have?\nThen replace the TODO with a greeting and add hello.txt.'
THOUGHT = "I will count the lines of notes.txt first."
FINAL = "notes.txt had 2 lines; it now greets, and hello.txt is added."
# Per step: prompt tokens (cached ones included), completion tokens (reasoning included), cached, reasoning.
USAGES = [(1000, 20, 200, 7), (1100, 30, 0, 0), (1200, 25, 0, 0), (1300, 15, 0, 0), (1400, 10, 1000, 0)]


def script(work: Path) -> list[dict]:
    """The model's steps in order (the server picks one by the number of assistant messages in the request)."""
    notes, hello = str(work / "notes.txt"), str(work / "hello.txt")
    u = [usage(*x) for x in USAGES]
    return [
        reasoning(tool_call("run_commands", {"commands": ["wc -l notes.txt"]}, "call_wc", u[0]), THOUGHT),
        tool_call("editor", {"path": notes, "old_text": "TODO: greet", "new_text": "Hello from bashgym"},
                  "call_edit", u[1]),
        tool_call("editor", {"path": hello, "new_text": "hi\n"}, "call_write", u[2]),
        tool_call("run_commands", {"commands": ["cat notes.txt hello.txt missing.txt", "echo done"]}, "call_cat",
                  u[3]),
        say(FINAL, u[4]),
    ]


def run_scenario(cline: Path, home: Path, work: Path) -> tuple[list[dict], ScriptedChatStreamServer]:
    """Run the prompt; returns the CLI's JSON lines and the server (with its requests). Raises with the CLI's
    output when the run fails."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    with ScriptedChatStreamServer(script(work)) as server:
        result = run_cline(cline, PROMPT, home=home, cwd=work, base_url=server.url, model=MODEL)
    if result.returncode != 0:
        raise RuntimeError(f"cline exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return events, server


def main(out: Path) -> None:
    record(out, cline_bin(), run_scenario, cline_sessions, ("**/*.json",), needs="the Cline CLI")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
