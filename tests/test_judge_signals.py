"""Each judge signal on real Claude Code CLI transcripts (tests/fixtures/claude) and hand-made edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from bashgym.judge import signals as sig
from bashgym.schema import Session, Step, Turn
from bashgym.sources.claude_code import parse_transcript

CLAUDE = Path(__file__).parent / "fixtures" / "claude" / "projects"


def sh(command: str, output: str = "", code: int = 0, **kw) -> Step:
    return Step(kind="tool_call", tool_name="Bash", input={"command": command}, output=output, exit_code=code, **kw)


def edit(path: str, old: str, new: str, error: bool = False) -> Step:
    return Step(kind="tool_call", tool_name="Edit", input={"file_path": path, "old_string": old, "new_string": new},
                output="ok", is_error=error)


def say(text: str) -> Step:
    return Step(kind="message", role="assistant", text=text)


def turn(*steps: Step, prompt: str = "do it", index: int = 0) -> Turn:
    return Turn(index, prompt, list(steps))


def real_session(scenario: str) -> Session:
    path = next(CLAUDE.glob(f"*-{scenario}/*.jsonl"))
    lines = list(enumerate(path.read_bytes().splitlines(), 1))
    return parse_transcript(str(path), lines).sessions[0]


# ------------------------------------------------------------------------- real CLI transcripts


def test_real_fix_failing_test_reads_the_test_verdicts() -> None:
    t = real_session("fix-failing-test").turns[0]
    runs = sig.test_runs(t)
    assert [r.ok for _, r in runs] == [False, True]
    passed = sig.last_test_passed(t)
    assert passed.value is True and "python3 test_calc.py" in passed.evidence[0].text
    # the failing run reproduced the bug: it is judged by `tests`, not counted as a broken tool
    assert sig.tool_error_rate(t).value == 0
    assert sig.ended_fulfilled(t).value == 1.0


def test_real_give_up_shows_retries_and_admitted_failure() -> None:
    t = real_session("give-up").turns[0]
    assert sig.retries(t).value == 2
    assert sig.loops(t).value == 1
    assert sig.tool_error_rate(t).value == 1.0
    ended = sig.ended_fulfilled(t)
    assert ended.value == 0.25 and "could not get" in ended.evidence[0].text


def test_real_correction_marks_the_previous_turn() -> None:
    s = real_session("correction")
    corrected = sig.corrected_by_next_turn(s.turns[0], s.turns[1])
    assert corrected.value is True and "that's wrong" in corrected.evidence[0].text
    assert sig.corrected_by_next_turn(s.turns[1], None).value is False


def test_real_clean_edit_has_no_problems() -> None:
    t = real_session("list-and-edit").turns[0]
    assert sig.tool_error_rate(t).value == 0
    assert sig.reverted_edits(t).value == 0
    assert sig.user_interrupts(t).value == 0
    assert sig.last_test_passed(t).value is None
    assert sig.shell_exit_codes(t).value == {"0": 2}


# ------------------------------------------------------------------------- hand-made edge cases


def test_tool_error_rate_ignores_query_exit_codes_and_is_none_without_calls() -> None:
    t = turn(sh("grep -rn foo src", "", 1), sh("diff a b", "1c1", 1), sh("make", "make: *** Error 2", 2))
    s = sig.tool_error_rate(t)
    assert s.value == pytest.approx(1 / 3, abs=1e-3) and s.evidence[0].step == 2
    assert sig.tool_error_rate(turn(say("hi"))).value is None


def test_shell_exit_codes_counts_each_code() -> None:
    t = turn(sh("a"), sh("b", code=2), sh("c", code=2), say("x"))
    s = sig.shell_exit_codes(t)
    assert s.value == {"0": 1, "2": 2} and [e.step for e in s.evidence] == [1, 2]


def test_last_test_passed_uses_exit_code_when_output_has_no_summary() -> None:
    assert sig.last_test_passed(turn(sh("make test", "boom", 2))).value is False
    assert sig.last_test_passed(turn(sh("npm test", "done", 0))).value is True


def test_summary_ok_but_nonzero_exit_is_a_failed_run() -> None:
    t = turn(sh("pytest --cov --cov-fail-under=90", "10 passed in 1.0s\nFAIL Required coverage of 90% not reached", 1))
    assert sig.last_test_passed(t).value is False


def test_compile_errors_fixed_later_are_not_unresolved() -> None:
    fixed = turn(sh("npx tsc --noEmit", "src/a.ts(1,5): error TS2322: bad", 2), edit("a.ts", "x", "y"),
                 sh("npx tsc --noEmit", ""))
    s = sig.compile_lint_errors(fixed)
    assert s.value == 0 and len(s.evidence) == 1 and "fixed later" in s.evidence[0].text
    left = turn(sh("python -c 'x ='", '  File "<string>", line 1\n    x =\n       ^\nSyntaxError: invalid syntax', 1))
    assert sig.compile_lint_errors(left).value == 1


def test_user_interrupts_finds_flags_rejections_and_markers() -> None:
    t = turn(
        sh("sleep 100", "[Request interrupted by user for tool use]", 1, interrupted=True),
        Step(kind="tool_call", tool_name="Edit", input={}, is_error=True,
             output="The user doesn't want to proceed with this tool use. The tool use was rejected"),
        Step(kind="message", role="user", text="[Request interrupted by user]"),
    )
    s = sig.user_interrupts(t)
    assert s.value == 3 and [e.step for e in s.evidence] == [0, 1, 2]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [("no, use the other file", True), ("Undo that", True), ("that's wrong", True), ("it still fails", True),
     ("It doesn't work", True), ("revert the last change", True), ("now add tests", False),
     ("note: the api changed", False), ("nothing else, thanks", False), ("", False)],
)
def test_is_correction(prompt: str, expected: bool) -> None:
    assert sig.is_correction(prompt) is expected


def test_retries_need_the_same_failed_call_with_no_edit_between() -> None:
    same = turn(sh("make", "err", 2), sh("make", "err", 2))
    assert sig.retries(same).value == 1
    edited = turn(sh("make", "err", 2), edit("a.c", "x", "y"), sh("make", "", 0))
    assert sig.retries(edited).value == 0
    succeeded_first = turn(sh("ls"), sh("ls"))
    assert sig.retries(succeeded_first).value == 0


def test_loops_counts_calls_repeated_three_times() -> None:
    t = turn(*[sh("cat log")] * 3, sh("ls"), sh("ls"))
    s = sig.loops(t)
    assert s.value == 1 and "made 3 times" in s.evidence[0].text


def test_turn_size_reports_steps_calls_and_tokens() -> None:
    t = turn(sh("ls"), say("done"))
    t.usage.input_tokens, t.usage.output_tokens = 100, 20
    s = sig.turn_size(t)
    assert s.value == 2 and s.detail == "2 steps, 1 tool calls, 120 tokens"


def test_reverted_edits_by_swap_and_by_git_restore() -> None:
    swap = turn(edit("a.py", "x = 1", "x = 2"), edit("a.py", "x = 2", "x = 1"))
    s = sig.reverted_edits(swap)
    assert s.value == 1 and s.evidence[0].step == 1
    restore = turn(edit("/r/src/b.py", "a", "b"), edit("/r/src/c.py", "a", "b"), sh("git checkout -- src/b.py"))
    s = sig.reverted_edits(restore)
    assert s.value == 1 and "b.py" in s.evidence[0].text
    assert sig.reverted_edits(turn(edit("a.py", "x", "y"), sh("git checkout -b feature"))).value == 0


def test_ended_fulfilled_variants() -> None:
    assert sig.ended_fulfilled(turn()).value == 0.0
    assert sig.ended_fulfilled(turn(Step(kind="tool_call", tool_name="Bash", input={"command": "x"}))).value == 0.0
    assert sig.ended_fulfilled(turn(sh("ls"))).value == 0.25
    assert sig.ended_fulfilled(turn(sh("make", "err", 2), say("Done."))).value == 0.25
    assert sig.ended_fulfilled(turn(sh("ls"), say("I was unable to fix the build."))).value == 0.25
    done = sig.ended_fulfilled(turn(sh("ls"), say("All set.")))
    assert done.value == 1.0 and done.evidence[0].step == 1


def test_turn_signals_has_every_signal() -> None:
    names = set(sig.turn_signals(turn(sh("ls"), say("ok"))))
    assert names == {"tool_error_rate", "shell_exit_codes", "last_test_passed", "compile_lint_errors",
                     "user_interrupts", "corrected", "retries", "loops", "turn_size", "reverted_edits",
                     "ended_fulfilled", "edits"}


def finish(message: str) -> Step:
    """OpenHands' `finish` call, as bashgym.sources.openhands imports it."""
    return Step(kind="tool_call", tool_name="finish", input={"message": message}, output=message,
                meta={"final_answer": True})


def test_a_finish_call_is_the_final_answer() -> None:
    done = sig.ended_fulfilled(turn(sh("ls"), finish("All set.")))
    assert done.value == 1.0 and done.evidence[0].text == "final message: 'All set.'"
    assert sig.ended_fulfilled(turn(sh("make", "err", 2), finish("Done."))).value == 0.25
    assert sig.ended_fulfilled(turn(sh("ls"), finish("I was unable to fix the build."))).value == 0.25
    # The same call without the mark is an ordinary last tool call.
    plain = Step(kind="tool_call", tool_name="finish", input={"message": "All set."}, output="All set.")
    assert sig.ended_fulfilled(turn(sh("ls"), plain)).value == 0.25


def test_an_editor_view_is_not_an_edit() -> None:
    view = Step(kind="tool_call", tool_name="file_editor", input={"command": "view", "path": "/w/tests/test_a.py"},
                output="1\tdef test_a(): ...")
    change = Step(kind="tool_call", tool_name="file_editor", output="edited",
                  input={"command": "str_replace", "path": "/w/a.py", "old_str": "a - b", "new_str": "a + b"})
    assert sig.edit_count(turn(view, change, say("ok"))) == 1
    assert not sig.is_edit_call(view) and sig.is_edit_call(change)
