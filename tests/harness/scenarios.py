"""Scripted sessions for the real Claude Code CLI: what the "model" does, and the files it works on.

Used by the end-to-end test and by `make_claude_fixtures.py`, which records the transcripts the real CLI
writes (tests/fixtures/claude/ and the demo's bundled samples come from it, never from hand-written JSON).
Each scenario's marker must appear in its prompt; the scripted server routes on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.anthropic_server import Block, text, thinking, tool_use

CALC_BUGGY = "def add(a, b):\n    return a - b\n"
CALC_TEST = (
    "import sys\nfrom calc import add\n\n"
    "if add(2, 3) != 5:\n    print('FAILED: add(2, 3) ==', add(2, 3))\n    sys.exit(1)\nprint('1 passed')\n"
)


@dataclass
class Scenario:
    name: str
    prompt: str
    files: dict[str, str]
    script: Callable[[Path], dict[str, list[list[Block]]]]
    followups: list[str] = field(default_factory=list)  # prompts sent with --resume, in order


def _list_and_edit(work: Path) -> dict[str, list[list[Block]]]:
    return {"[S1]": [
        [thinking("I should look at the files first."), text("Let me look around."),
         tool_use("Bash", {"command": "ls -la && wc -l notes.txt", "description": "List files"})],
        [tool_use("Read", {"file_path": str(work / "notes.txt")})],
        [tool_use("Edit", {"file_path": str(work / "notes.txt"), "old_string": "TODO: greet",
                           "new_string": "Hello from bashgym"})],
        [tool_use("Bash", {"command": "cat notes.txt", "description": "Show the result"})],
        [text("Done: notes.txt now greets from bashgym.")],
    ]}


def _fix_failing_test(work: Path) -> dict[str, list[list[Block]]]:
    return {"[S2]": [
        [tool_use("Bash", {"command": "python3 test_calc.py", "description": "Run the tests"})],
        [thinking("add() subtracts; it should add."), tool_use("Read", {"file_path": str(work / "calc.py")})],
        [tool_use("Edit", {"file_path": str(work / "calc.py"), "old_string": "return a - b",
                           "new_string": "return a + b"})],
        [tool_use("Bash", {"command": "python3 test_calc.py", "description": "Run the tests again"})],
        [text("Fixed: add() used subtraction. The test passes now.")],
    ]}


def _give_up(work: Path) -> dict[str, list[list[Block]]]:
    cmd = {"command": "python3 -c 'import yaml_missing_module'", "description": "Try the import"}
    return {"[S3]": [
        [tool_use("Bash", cmd)],
        [tool_use("Bash", cmd)],
        [tool_use("Bash", cmd)],
        [text("I could not get the module to import.")],
    ]}


def _subagent(work: Path) -> dict[str, list[list[Block]]]:
    return {
        "[S4]": [
            [tool_use("Task", {"description": "Count files", "prompt": "[S4-SUB] count the files here",
                               "subagent_type": "general-purpose"})],
            [text("The subagent counted the files: 2.")],
        ],
        "[S4-SUB]": [
            [tool_use("Bash", {"command": "ls | wc -l", "description": "Count files"})],
            [text("There are 2 files.")],
        ],
    }


def _correction(work: Path) -> dict[str, list[list[Block]]]:
    return {
        "[S5]": [
            [tool_use("Write", {"file_path": str(work / "greeting.txt"), "content": "hi there\n"})],
            [text("Wrote greeting.txt.")],
            [tool_use("Write", {"file_path": str(work / "greeting.txt"), "content": "Hello, world!\n"})],
            [text("Changed it to the formal greeting.")],
        ],
    }


def _compaction(work: Path) -> dict[str, list[list[Block]]]:
    return {
        "[S6]": [[tool_use("Bash", {"command": "wc -l notes.txt", "description": "Count lines"})],
                 [text("notes.txt has 2 lines.")]],
        "[S6-AFTER]": [[tool_use("Bash", {"command": "cat notes.txt", "description": "Show notes"})],
                       [text("It says alpha and beta.")]],
    }


def _parallel(work: Path) -> dict[str, list[list[Block]]]:
    return {"[S7]": [
        [text("Both at once."), tool_use("Bash", {"command": "ls", "description": "List files"}),
         tool_use("Read", {"file_path": str(work / "notes.txt")})],
        [tool_use("Bash", {"command": "wc -l notes.txt", "description": "Count lines"})],
        [text("Two files; notes.txt has 2 lines.")],
    ]}


# Recorded into tests/fixtures/claude_more/ (`make_claude_fixtures.py OUT --more`): a compaction in the middle
# of a session, and calls made in parallel (two tool_use blocks in one message) followed by a sequential one.
MORE_SCENARIOS = [
    Scenario("compaction", "[S6] How many lines does notes.txt have?", {"notes.txt": "alpha\nbeta\n"}, _compaction,
             followups=["/compact", "[S6-AFTER] Now show me notes.txt."]),
    Scenario("parallel", "[S7] List the files and show notes.txt, then count its lines.",
             {"notes.txt": "alpha\nbeta\n"}, _parallel),
]

SCENARIOS = [
    Scenario("list_and_edit", "[S1] Replace the TODO in notes.txt with a greeting from bashgym.",
             {"notes.txt": "line one\nTODO: greet\n"}, _list_and_edit),
    Scenario("fix_failing_test", "[S2] The test in test_calc.py fails. Fix calc.py so it passes.",
             {"calc.py": CALC_BUGGY, "test_calc.py": CALC_TEST}, _fix_failing_test),
    Scenario("give_up", "[S3] Make `import yaml_missing_module` work.", {}, _give_up),
    Scenario("subagent", "[S4] Use a subagent to count the files here.", {"a.txt": "a\n", "b.txt": "b\n"}, _subagent),
    Scenario("correction", "[S5] Write a short greeting to greeting.txt.", {},
             _correction, followups=["No, that's wrong: make it the formal 'Hello, world!'."]),
]
