"""Record a real Gemini CLI chat for the scripted scenario.

    python tests/harness/make_gemini_fixtures.py OUT_DIR [--resume-in-a-later-minute]

Runs the CLI (npm `@google/gemini-cli` 0.61.x) against the scripted Gemini API server in a temporary HOME:
a first prompt (shell, edit, write, a failing shell command, a reply), then a second one with `--resume`, and
copies `~/.gemini/tmp/<project>/` (chats and `.project_root`) to OUT_DIR exactly as the CLI left it. The
committed copies live in tests/fixtures/gemini/ and (with `--resume-in-a-later-minute`)
tests/fixtures/gemini_resumed_later/.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.gemini_cli import gemini_bin, gemini_tmp, run_gemini  # noqa: E402
from harness.gemini_server import ScriptedGeminiServer, function_call, say, usage  # noqa: E402
from harness.recording import record  # noqa: E402

MODEL = "gemini-scripted-1"
PROMPT = '[GM1] How many lines does "notes.txt" have?\nThen replace the TODO with a greeting and add hello.txt.'
FOLLOWUP = "[GM2] Show me notes.txt."
THOUGHT = "**Counting lines** I will count the lines of notes.txt first."
FINAL = "notes.txt had 2 lines; it now greets, and hello.txt is added."
FINAL_2 = "It says: line one, Hello from bashgym."
# Per step: prompt tokens (cached ones included), candidate tokens, cached, thoughts.
USAGES = [(1000, 20, 200, 7), (1100, 30, 0, 0), (1200, 25, 0, 0), (1300, 15, 0, 0), (1400, 10, 1000, 0),
          (2000, 12, 1500, 0), (2100, 8, 0, 0)]
FIRST_STEPS = 5  # replies to PROMPT; the rest answer FOLLOWUP


def script(work: Path) -> list[dict]:
    """The model's steps in order (the server picks one by the number of model turns in the request, which
    keeps counting across `--resume`)."""
    notes, hello = str(work / "notes.txt"), str(work / "hello.txt")
    u = [usage(*x) for x in USAGES]
    return [
        function_call("run_shell_command", {"command": "wc -l notes.txt", "description": "Count the lines"}, u[0],
                      thought=THOUGHT),
        function_call("replace", {"file_path": notes, "old_string": "TODO: greet", "new_string": "Hello from bashgym",
                                  "instruction": "Replace the TODO with a greeting."}, u[1]),
        function_call("write_file", {"file_path": hello, "content": "hi\n"}, u[2]),
        function_call("run_shell_command", {"command": "cat notes.txt hello.txt missing.txt"}, u[3]),
        say(FINAL, u[4]),
        function_call("run_shell_command", {"command": "head -n 2 notes.txt"}, u[5]),
        say(FINAL_2, u[6]),
    ]


def run_scenario(gemini: Path, home: Path, work: Path, *, resume_in_a_later_minute: bool = False,
                 ) -> tuple[list[str], ScriptedGeminiServer]:
    """Run both prompts; returns the CLI's JSON outputs and the server (with its requests). Raises with the
    CLI's output when a run fails.

    The chat file is named after the minute the chat started (`session-YYYY-MM-DDTHH-MM-<id8>.jsonl`). A
    `--resume` that starts in a later minute appends to that file but also leaves a second one, named after
    its own minute, holding only metadata and the injected `<session_context>` (seen with 0.61.0). With
    `resume_in_a_later_minute` the first file is renamed one minute back before the resume, so that case
    happens every time instead of whenever the two runs straddle a minute."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    outputs = []
    with ScriptedGeminiServer(script(work)) as server:
        for prompt, extra in ((PROMPT, []), (FOLLOWUP, ["--resume"])):
            if extra:
                extra = [*extra, json.loads(outputs[0])["session_id"]]
                if resume_in_a_later_minute:
                    _move_back_one_minute(gemini_tmp(home))
            result = run_gemini(gemini, prompt, home=home, cwd=work, base_url=server.url, model=MODEL,
                                extra_args=extra)
            if result.returncode != 0:
                raise RuntimeError(f"gemini exited {result.returncode}\n{result.stdout}\n{result.stderr}")
            outputs.append(result.stdout)
    return outputs, server


def _move_back_one_minute(root: Path) -> None:
    [chat] = root.rglob("chats/session-*.jsonl")
    stamp, short_id = chat.stem[len("session-"):].rsplit("-", 1)
    earlier = datetime.strptime(stamp, "%Y-%m-%dT%H-%M") - timedelta(minutes=1)
    chat.rename(chat.with_name(f"session-{earlier:%Y-%m-%dT%H-%M}-{short_id}.jsonl"))


def main(out: Path, resume_in_a_later_minute: bool = False) -> None:
    def scenario(gemini: Path, home: Path, work: Path) -> None:
        run_scenario(gemini, home, work, resume_in_a_later_minute=resume_in_a_later_minute)

    record(out, gemini_bin(), scenario, gemini_tmp, ("*/.project_root", "*/chats/**/*.jsonl"), needs="the Gemini CLI")


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--resume-in-a-later-minute" in sys.argv[2:])
