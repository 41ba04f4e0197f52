"""Record a real Qwen Code chat for the scripted scenario.

    python tests/harness/make_qwen_fixtures.py OUT_DIR

Runs the CLI (npm `@qwen-code/qwen-code` 0.24.x on the locked Node 22) against the scripted streaming
chat-completions server in a temporary HOME: a first prompt (reasoning, a shell command, a read, an edit, a
write, a failing shell command, a reply), then a second one with `--resume`, and copies
`~/.qwen/projects/<project>/chats/` to OUT_DIR exactly as the CLI left it. The committed copy lives in
tests/fixtures/qwen/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.chat_stream_server import ScriptedChatStreamServer, reasoning, say, tool_call, usage  # noqa: E402
from harness.qwen_cli import qwen_command, qwen_projects, run_qwen  # noqa: E402
from harness.recording import record  # noqa: E402

MODEL = "qwen-scripted-1"
PROMPT = '[QW1] How many lines does "notes.txt" have?\nThen replace the TODO with a greeting and add hello.txt.'
FOLLOWUP = "[QW2] Show me notes.txt."
THOUGHT = "I will count the lines of notes.txt first."
FINAL = "notes.txt had 2 lines; it now greets, and hello.txt is added."
FINAL_2 = "It says: line one, Hello from bashgym."
# Per step: prompt tokens (cached ones included), completion tokens (reasoning included), cached, reasoning.
USAGES = [(1000, 20, 200, 7), (1100, 30, 0, 0), (1200, 25, 0, 0), (1300, 15, 0, 0), (1400, 12, 0, 0),
          (1500, 10, 1000, 0), (2000, 12, 1500, 0), (2100, 8, 0, 0)]
FIRST_STEPS = 6  # replies to PROMPT; the rest answer FOLLOWUP
# Qwen Code 0.24.4 runs `-p` shell commands with child_process and resolves on the child's `exit` event, before
# its stdout is necessarily read: a fast command sometimes records an empty output (the first of a run in 3 of
# 8 runs here; under load any). A sleep after the output lets the CLI read it first; the exit codes stay.
WC = "wc -l notes.txt && sleep 1"
CAT = "cat notes.txt hello.txt missing.txt || { sleep 1; exit 1; }"
HEAD = "head -n 2 notes.txt && sleep 1"


def script(work: Path) -> list[dict]:
    """The model's steps in order (the server picks one by the number of assistant messages in the request,
    which keeps counting across `--resume`)."""
    notes, hello = str(work / "notes.txt"), str(work / "hello.txt")
    u = [usage(*x) for x in USAGES]
    return [
        reasoning(tool_call("run_shell_command", {"command": WC, "is_background": False},
                            "call_wc", u[0]), THOUGHT),
        tool_call("read_file", {"file_path": notes}, "call_read", u[1]),
        tool_call("edit", {"file_path": notes, "old_string": "TODO: greet", "new_string": "Hello from bashgym"},
                  "call_edit", u[2]),
        tool_call("write_file", {"file_path": hello, "content": "hi\n"}, "call_write", u[3]),
        tool_call("run_shell_command", {"command": CAT, "is_background": False},
                  "call_cat", u[4]),
        say(FINAL, u[5]),
        tool_call("run_shell_command", {"command": HEAD, "is_background": False}, "call_head", u[6]),
        say(FINAL_2, u[7]),
    ]


def run_scenario(qwen: list[str], home: Path, work: Path) -> tuple[list[list[dict]], ScriptedChatStreamServer]:
    """Run both prompts; returns the CLI's JSON outputs (event lists) and the server (with its requests).
    Raises with the CLI's output when a run fails."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    outputs: list[list[dict]] = []
    with ScriptedChatStreamServer(script(work)) as server:
        for prompt in (PROMPT, FOLLOWUP):
            extra = ["--resume", outputs[0][-1]["session_id"]] if outputs else []
            result = run_qwen(qwen, prompt, home=home, cwd=work, base_url=server.url, model=MODEL, extra_args=extra)
            if result.returncode != 0:
                raise RuntimeError(f"qwen exited {result.returncode}\n{result.stdout}\n{result.stderr}")
            outputs.append(json.loads(result.stdout))
    return outputs, server


def main(out: Path) -> None:
    record(out, qwen_command(), run_scenario, qwen_projects, ("**/chats/*.jsonl",), needs="Qwen Code")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
