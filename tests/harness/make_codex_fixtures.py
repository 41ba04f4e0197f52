"""Record a real Codex CLI rollout for the scripted scenario.

    python tests/harness/make_codex_fixtures.py OUT_DIR

Runs the CLI (npm `@openai/codex`) against the scripted Responses server in a temporary HOME and a fresh git
repository, then a second prompt with `codex exec resume`, and copies the rollout to OUT_DIR exactly as the
CLI left it. The committed copy lives in tests/fixtures/codex/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.codex_cli import CODEX_PACKAGE, npm_bin, rollouts, run_codex  # noqa: E402
from harness.responses_server import (  # noqa: E402
    ScriptedResponsesServer,
    custom_tool_call,
    exec_command,
    reasoning,
    say,
)

PROMPT = "[CX1] How many lines does notes.txt have? Then add hello.txt."
FOLLOWUP = "[CX2] Show me notes.txt."
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"


def script() -> dict[str, list[list[dict]]]:
    return {
        "[CX1]": [
            [reasoning("I should count the lines first."), exec_command("wc -l notes.txt", "call_wc")],
            [exec_command("ls does-not-exist", "call_ls")],
            [custom_tool_call("apply_patch", PATCH, "call_patch")],
            [say("notes.txt has 2 lines.")],
        ],
        "[CX2]": [
            [exec_command("cat notes.txt", "call_cat")],
            [say("It says alpha and beta.")],
        ],
    }


def run_scenario(codex: Path, home: Path, work: Path) -> tuple[list[str], ScriptedResponsesServer]:
    """Run both prompts of the scenario; returns the CLI's JSON outputs and the server (with its requests)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "notes.txt").write_text("alpha\nbeta\n")
    git = ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=work, check=True)
    subprocess.run([*git, "add", "notes.txt"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "notes"], cwd=work, check=True)
    outputs = []
    with ScriptedResponsesServer(script()) as server:
        first = run_codex(codex, PROMPT, home=home, cwd=work, base_url=server.url)
        outputs.append(first.stdout)
        thread = json.loads(first.stdout.splitlines()[0])["thread_id"]
        second = run_codex(codex, FOLLOWUP, home=home, cwd=work, base_url=server.url, extra_args=["resume", thread])
        outputs.append(second.stdout)
    return outputs, server


def main(out: Path) -> None:
    codex = npm_bin(CODEX_PACKAGE, "codex")
    if codex is None:
        raise SystemExit("npm is needed to install the Codex CLI")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        run_scenario(codex, home, Path(tmp) / "work")
        out.mkdir(parents=True, exist_ok=True)
        for path in rollouts(home):
            shutil.copy(path, out / path.name)
            print(out / path.name)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
