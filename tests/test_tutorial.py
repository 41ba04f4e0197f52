"""docs/tutorial.md is executable documentation: every `$ bashgym ...` line in its code blocks runs, in order,
in one fresh home whose ~/.claude/projects holds the sample sessions bundled with bashgym, and the output the
tutorial shows must be what the command prints.

Matching allows for what differs run to run: the home directory reads as /home/you, run/eval ids and clock
times are normalised, runs of spaces and table rules count as one, `…` inside a shown line matches any text,
and a shown line that is only `…` stands for lines left out. Shown lines must appear in the output in order.

    python tests/test_tutorial.py          # print what each command prints now (to update the tutorial)
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "tutorial.md"
SAMPLES = REPO / "src" / "bashgym" / "samples" / "claude" / "projects"

RUN_ID = re.compile(r"\b(sft|dpo|grpo)-\d{8}-\d{6}-[0-9a-f]{4}\b")

CLOCK = re.compile(r"\b\d+:\d\d:\d\d\b")
BOX = re.compile(r"[─━│┃┌┐└┘├┤┬┴┼┏┓┗┛┡┩╇╈┠┨┯┷┿╭╮╰╯═║]+")
SECONDS = re.compile(r"\b\d+(\.\d+)? ?s\b")


@dataclass
class Step:
    line: int
    command: str
    shown: list[str]


def steps(text: str) -> list[Step]:
    """Every `$ bashgym ...` line of a fenced block, with the lines shown under it (up to the next `$`)."""
    out: list[Step] = []
    in_fence = False
    current: Step | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            in_fence = not in_fence
            current = None
            continue
        if not in_fence:
            continue
        if line.startswith("$ bashgym"):
            current = Step(number, line[2:], [])
            out.append(current)
        elif current is not None:
            current.shown.append(line)
    return out


def normalise(line: str, home: Path) -> str:
    line = line.replace(str(home), "/home/you")
    line = RUN_ID.sub(r"\1-<id>", line)
    line = CLOCK.sub("<time>", line)
    line = SECONDS.sub("<s>", line)
    line = BOX.sub(" ", line)
    return " ".join(line.split())


def pattern(shown: str, home: Path) -> re.Pattern[str]:
    return re.compile(".*?".join(re.escape(p) for p in normalise(shown, home).split("…")))


def compare(step: Step, output: str, home: Path) -> str | None:
    """None when every shown line is found in the output, in order; else what is missing. The output is read
    as one text, so a line the terminal wrapped still matches the line as the tutorial shows it."""
    text = " ".join(normalise(line, home) for line in output.splitlines())
    at = 0
    for shown in step.shown:
        if not normalise(shown, home) or shown.strip() == "…":
            continue
        found = pattern(shown, home).search(text, at)
        if found is None:
            return (f"docs/tutorial.md:{step.line}: `{step.command}` did not print (in this order):\n  {shown}\n"
                    "it printed:\n" + "\n".join("  " + a for a in output.splitlines()))
        at = found.end()
    return None


def prepare(home: Path) -> dict[str, str]:
    """A fresh HOME holding the bundled sample sessions where Claude Code keeps them."""
    shutil.copytree(SAMPLES, home / ".claude" / "projects")
    env = {k: v for k, v in os.environ.items() if k not in ("BASHGYM_HOME", "CLAUDE_CONFIG_DIR")}
    env.update(HOME=str(home), COLUMNS="100", NO_COLOR="1", TERM="dumb", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def run(step: Step, home: Path, env: dict[str, str], last_run_id: str | None) -> subprocess.CompletedProcess[str]:
    command = step.command
    if last_run_id:  # a run id shown in the tutorial stands for the run the tutorial's train step made
        command = RUN_ID.sub(last_run_id, command)
    args = shlex.split(command)[1:]
    return subprocess.run([sys.executable, "-m", "bashgym.cli", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, cwd=home, env=env, timeout=600)  # as a terminal shows


def test_tutorial_commands_print_what_the_tutorial_shows() -> None:
    # A home path about as short as /home/you, so the terminal wraps paths where the tutorial's reader sees it.
    base = Path(tempfile.mkdtemp(prefix="bgt-", dir="/tmp"))
    try:
        check_tutorial(base / "you")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def check_tutorial(home: Path) -> None:
    env = prepare(home)
    found = steps(TUTORIAL.read_text(encoding="utf-8"))
    assert len(found) >= 8, "the tutorial lost its command blocks"
    last_run_id = None
    for step in found:
        proc = run(step, home, env, last_run_id)
        output = proc.stdout
        assert proc.returncode == 0, f"docs/tutorial.md:{step.line}: `{step.command}` exited {proc.returncode}:\n{output}"
        assert "Traceback" not in output
        problem = compare(step, output, home)
        assert problem is None, problem
        made = RUN_ID.search(output)
        last_run_id = made.group(0) if made else last_run_id


def test_matching_allows_ids_and_times_but_not_other_text(tmp_path: Path) -> None:
    home = tmp_path
    step = Step(1, "bashgym x", ["run sft-20261125-145029-1e8a completed: 5 steps, loss … → …", "…",
                                 "  done in 0:00:26"])
    printed = "step 1\nrun sft-20261205-080102-99ff completed: 5 steps,\nloss 6.1 → 6.0\nmore\n  done in 0:01:02\n"
    assert compare(step, printed, home) is None  # a wrapped line still matches
    assert compare(step, printed.replace("completed", "failed"), home) is not None
    assert compare(Step(1, "x", ["b", "a"]), "a\nb\n", home) is not None  # order matters
    assert compare(Step(1, "x", ["adapter: /home/you/runs"]), f"adapter: {home}/runs", home) is None


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "you"
        env = prepare(home)
        last = None
        for step in steps(TUTORIAL.read_text(encoding="utf-8")):
            proc = run(step, home, env, last)
            out = proc.stdout.replace(str(home), "/home/you")
            print(f"$ {step.command}    [exit {proc.returncode}]\n{out}")
            match = RUN_ID.search(proc.stdout)
            last = match.group(0) if match else last
