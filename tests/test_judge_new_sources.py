"""The judge on one real session of each source added for issue 26 (fixtures recorded by the real agents):
imported with `bashgym import`, judged with `bashgym judge`, and the signals read what each source records —
mini-swe-agent's exit codes and failed command, Aider's edit and a final reply whose commands run after it, Qwen
Code's exit codes, edits and failed command, Cline's per-command exit codes, GitHub Copilot CLI's exit codes
and edits, OpenHands' exit codes, edit and `finish` answer."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def judged(source: str, path: Path) -> list[dict]:
    """Import `path` as `source`, judge the store, and return the heuristic turn scores of its sessions,
    each with its stored signals and the turn's prompt."""
    imported = runner.invoke(app, ["import", source, str(path), "--json"])
    assert imported.exit_code == 0 and json.loads(imported.output)["errors"] == [], imported.output
    judge = runner.invoke(app, ["judge", "--json"])
    assert judge.exit_code == 0, judge.output
    out = []
    with Store.open() as store:
        for summary in store.list_sessions(source=source.replace("-", "_")):
            session = store.get_session(summary["id"])
            for row in store.scores(summary["id"]):
                if row["turn_idx"] >= 0 and row["scorer"] == "heuristic":
                    data = row["metrics"]
                    out.append({"prompt": session.turns[row["turn_idx"]].prompt, "tier": row["tier"],
                                "score": row["total"], "signals": data["signals"]})
    return out


def test_mini_swe_agent_session_is_judged_on_its_exit_codes_and_failed_command(isolated_home: Path) -> None:
    [turn] = judged("mini-swe-agent", FIXTURES / "mini_swe_agent")
    signals = turn["signals"]
    # wc, sed and the submit exit 0 (the submit is not run: no code); `cat notes.txt missing.txt` exits 1.
    assert signals["shell_exit_codes"] == {"0": 2, "1": 1}
    assert signals["tool_error_rate"] == 0.25
    assert signals["ended_fulfilled"] == 1.0 and signals["edits"] == 0
    assert turn["tier"] in ("gold", "silver", "bronze", "failed") and 0 <= turn["score"] <= 1


def test_aider_session_is_judged_on_its_edit_and_its_final_reply(isolated_home: Path) -> None:
    turns = {t["prompt"]: t for t in judged("aider", FIXTURES / "aider")}
    task = turns["[AI1] Replace the TODO in notes.txt with a greeting, then count its lines."]["signals"]
    assert task["edits"] == 1 and task["tool_error_rate"] == 0.0
    # The reply is final: the edit and the `wc -l` aider carried out from it come after it, yet it ended done.
    assert task["ended_fulfilled"] == 1.0
    # Aider does not record command output or exit codes, so nothing claims a test ran.
    assert task["last_test_passed"] is None and task["shell_exit_codes"] == {}
    # The user's own `/run` (no model call): aider does not record its output, which is not dying mid-call.
    run = turns["/run cat notes.txt"]["signals"]
    assert run["ended_fulfilled"] == 0.25 and run["edits"] == 0


def test_qwen_code_session_is_judged_on_its_exit_codes_edits_and_failed_command(isolated_home: Path) -> None:
    turns = {t["prompt"]: t for t in judged("qwen", FIXTURES / "qwen")}
    task = next(t for p, t in turns.items() if p.startswith("[QW1]"))["signals"]
    # `wc -l` exits 0, `cat ... missing.txt` exits 1 (its result is an error); the edit and the write count.
    assert task["shell_exit_codes"] == {"0": 1, "1": 1}
    assert task["tool_error_rate"] == 0.2 and task["edits"] == 2
    assert task["ended_fulfilled"] == 0.25  # the last call (the cat) failed and nothing after it fixed that
    followup = turns["[QW2] Show me notes.txt."]["signals"]
    assert followup["shell_exit_codes"] == {"0": 1} and followup["edits"] == 0
    assert followup["ended_fulfilled"] == 1.0


def test_cline_session_is_judged_on_each_commands_exit_code_and_its_edits(isolated_home: Path) -> None:
    [turn] = judged("cline", FIXTURES / "cline")
    signals = turn["signals"]
    # One run_commands call ran `cat ... missing.txt` (exit 1) and `echo done` (exit 0): each counts.
    assert signals["shell_exit_codes"] == {"0": 2, "1": 1}
    assert signals["tool_error_rate"] == 0.2 and signals["edits"] == 2
    assert signals["ended_fulfilled"] == 1.0  # the last call (echo) succeeded, then a final answer


def test_copilot_session_is_judged_on_its_exit_codes_edits_and_failed_command(isolated_home: Path) -> None:
    turns = {t["prompt"]: t for t in judged("copilot", FIXTURES / "copilot")}
    task = next(t for p, t in turns.items() if p.startswith("[CP1]"))["signals"]
    # `wc -l` exits 0, `cat ... missing.txt` exits 1 (Copilot calls the tool run a success; the exit code wins);
    # the edit and the new file (`create`) count as edits.
    assert task["shell_exit_codes"] == {"0": 1, "1": 1}
    assert task["tool_error_rate"] == 0.2 and task["edits"] == 2
    assert task["ended_fulfilled"] == 0.25  # the last call (the cat) failed and nothing after it fixed that
    followup = turns["[CP2] Show me notes.txt."]["signals"]
    assert followup["shell_exit_codes"] == {"0": 1} and followup["edits"] == 0
    assert followup["ended_fulfilled"] == 1.0


def test_openhands_session_is_judged_on_exit_codes_its_edit_and_the_finish_answer(isolated_home: Path) -> None:
    turns = {t["prompt"][:5]: t for t in judged("openhands", FIXTURES / "openhands")}
    task = turns["[OH1]"]["signals"]
    # `wc -l` exits 0, `ls missing.txt` exits 2 (an error); the file_editor str_replace is an edit.
    assert task["shell_exit_codes"] == {"0": 1, "2": 1}
    assert task["edits"] == 1 and task["tool_error_rate"] == 0.25
    # The run ends with the `finish` tool, whose message is the answer: a final answer, but after a failed call.
    assert task["ended_fulfilled"] == 0.25
    follow = turns["[OH2]"]["signals"]
    assert follow["shell_exit_codes"] == {"0": 1} and follow["edits"] == 0 and follow["ended_fulfilled"] == 1.0
