"""Record a real GitHub Copilot CLI session for the scripted scenario.

    python tests/harness/make_copilot_fixtures.py OUT_DIR

Runs the CLI (npm `@github/copilot` 1.0.x, offline, bring-your-own-key provider) against the scripted streaming
chat-completions server in a temporary HOME: a first prompt (reasoning, a shell command, a view, an edit, a new
file, a failing shell command, a reply), then a second one with `--resume`, then a third that hands the count to
a subagent (the `task` tool; the subagent runs a shell command and answers), and copies
`~/.copilot/session-state/<id>/events.jsonl` to OUT_DIR exactly as the CLI left it. The committed copy lives in
tests/fixtures/copilot/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.chat_stream_server import ScriptedChatStreamServer, reasoning, say, tool_call, usage  # noqa: E402
from harness.copilot_cli import copilot_bin, copilot_sessions, run_copilot  # noqa: E402
from harness.recording import record  # noqa: E402

MODEL = "copilot-scripted-1"
PROMPT = '[CP1] How many lines does "notes.txt" have?\nThen replace the TODO with a greeting and add hello.txt.'
FOLLOWUP = "[CP2] Show me notes.txt."
THOUGHT = "I will count the lines of notes.txt first."
FINAL = "notes.txt had 2 lines; it now greets, and hello.txt is added."
FINAL_2 = "It says: line one, Hello from bashgym."
DELEGATE = "[CP3] Have a subagent count the lines of hello.txt."
SUB_PROMPT = "[SUB1] Count the lines of hello.txt."
SUB_FINAL = "hello.txt has 1 line."
FINAL_3 = "The subagent counted 1 line."
# Per step: prompt tokens (cached ones included), completion tokens (reasoning included), cached, reasoning.
USAGES = [(1000, 20, 200, 7), (1100, 30, 0, 0), (1200, 25, 0, 0), (1300, 15, 0, 0), (1400, 12, 0, 0),
          (1500, 10, 1000, 0), (2000, 12, 1500, 0), (2100, 8, 0, 0), (2200, 14, 0, 0), (2300, 9, 0, 0)]
TURNS = (slice(0, 6), slice(6, 8), slice(8, 10))  # the USAGES of the replies to PROMPT, FOLLOWUP, DELEGATE
SUB_USAGES = [(500, 6, 0, 0), (600, 4, 100, 0)]  # the subagent's own steps
# The bash tool reads the command's stdout and stderr apart: under load cat's error could come before its output.
# `2>&1` makes the shell write both to one pipe, in order.
CAT = "cat notes.txt hello.txt missing.txt 2>&1"


def script(work: Path) -> list[dict]:
    """The model's steps in order (the server picks one by the number of assistant messages in the request,
    which keeps counting across `--resume`)."""
    notes, hello = str(work / "notes.txt"), str(work / "hello.txt")
    u = [usage(*x) for x in USAGES]
    return [
        reasoning(tool_call("bash", {"command": "wc -l notes.txt", "description": "Count the lines"}, "call_wc",
                            u[0]), THOUGHT),
        tool_call("view", {"path": notes}, "call_view", u[1]),
        tool_call("edit", {"path": notes, "old_str": "TODO: greet", "new_str": "Hello from bashgym"}, "call_edit",
                  u[2]),
        tool_call("create", {"path": hello, "file_text": "hi\n"}, "call_create", u[3]),
        tool_call("bash", {"command": CAT, "description": "Show the files"}, "call_cat", u[4]),
        say(FINAL, u[5]),
        tool_call("bash", {"command": "head -n 2 notes.txt", "description": "Show notes.txt"}, "call_head", u[6]),
        say(FINAL_2, u[7]),
        tool_call("task", {"description": "Count lines", "prompt": SUB_PROMPT, "agent_type": "task",
                           "name": "counter"}, "call_task", u[8]),
        say(FINAL_3, u[9]),
    ]


def subagent_script() -> list[dict]:
    """The subagent's steps (its requests start from SUB_PROMPT, so the server tells them apart)."""
    u = [usage(*x) for x in SUB_USAGES]
    return [tool_call("bash", {"command": "wc -l hello.txt", "description": "Count"}, "call_sub_wc", u[0]),
            say(SUB_FINAL, u[1])]


def run_scenario(copilot: Path, home: Path, work: Path) -> tuple[list[list[dict]], ScriptedChatStreamServer]:
    """Run the three prompts; returns the CLI's JSON lines per run and the server (with its requests). Raises with
    the CLI's output when a run fails."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    outputs: list[list[dict]] = []
    with ScriptedChatStreamServer(script(work), subagents={SUB_PROMPT: subagent_script()}) as server:
        for prompt in (PROMPT, FOLLOWUP, DELEGATE):
            extra = [f"--resume={outputs[0][-1]['sessionId']}"] if outputs else []
            result = run_copilot(copilot, prompt, home=home, cwd=work, base_url=server.url, model=MODEL,
                                 extra_args=extra)
            if result.returncode != 0:
                raise RuntimeError(f"copilot exited {result.returncode}\n{result.stdout[-3000:]}\n"
                                   f"{result.stderr[-3000:]}")
            outputs.append([json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")])
    return outputs, server


def main(out: Path) -> None:
    record(out, copilot_bin(), run_scenario, copilot_sessions, ("*/events.jsonl",), needs="the GitHub Copilot CLI")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
