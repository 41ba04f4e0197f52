"""Facts read from a trace, one small pure function each: what happened, and which step shows it.

Every function takes schema objects (a Turn, sometimes the next Turn) and returns a `Signal`: a value and
the `Evidence` behind it (step index within the turn plus a short quote), so a score built from signals can
always say *why*. Nothing here reads the store or the config; `score.py` turns signals into metrics.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from bashgym.judge.testrunners import TestRun, looks_like_test_command, parse_test_output
from bashgym.schema import Step, Turn, is_shell_call, prompt_step, shell_command, steps_after_prompt

EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit", "str_replace_editor", "apply_patch",
                        "edit_file", "write_file", "replace", "str_replace_based_edit_tool",
                        "edit", "editor", "create", "file_editor"})  # Qwen Code's (and OpenCode's) edit tool, Cline's,
# Copilot CLI's new file, OpenHands' editor
# Commands of an editor tool (OpenHands' file_editor, Anthropic's str_replace_editor) that only read a file.
_READ_ONLY_EDITOR_COMMANDS = frozenset({"view"})


@dataclass(slots=True)
class Evidence:
    """Where a signal comes from: step index within the turn (-1 = the prompt), and a short quote."""

    step: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "text": self.text}


@dataclass(slots=True)
class Signal:
    name: str
    value: Any
    evidence: list[Evidence] = field(default_factory=list)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "detail": self.detail, "evidence": [e.to_dict() for e in self.evidence]}


# ---------------------------------------------------------------------------------------------- helpers


def _short(text: str | None, limit: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _last_line(text: str | None) -> str:
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return _short(lines[-1] if lines else "")


def describe_step(step: Step) -> str:
    """'Bash `pytest -q` → exit 1' : a one-line name for a step in an explanation."""
    if step.kind != "tool_call":
        return f"{step.role} message {_short(step.text, 60)!r}"
    command = shell_command(step)
    what = f"{step.tool_name} `{_short(command, 60)}`" if command else f"{step.tool_name} {_short(_input_text(step), 60)}"
    if step.exit_code not in (None, 0):
        what += f" → exit {step.exit_code}"
    elif step.is_error:
        what += " → error"
    return what


def _input_text(step: Step) -> str:
    if isinstance(step.input, str):
        return step.input
    if isinstance(step.input, dict):
        for key in ("file_path", "path", "pattern", "url", "query"):
            if isinstance(step.input.get(key), str):
                return step.input[key]
    return orjson.dumps(step.input, default=str).decode() if step.input is not None else ""


# Exit codes that mean "no" rather than "broken": grep found nothing, diff found differences, test was false.
_BENIGN_EXIT_1 = re.compile(r"^\s*(grep|egrep|fgrep|rg|ag|diff|cmp|test|\[|git diff|git grep|pgrep|which|command -v)\b")


def is_failed_call(step: Step) -> bool:
    """True when a tool call failed: the source flagged an error, or a shell command exited non-zero
    (except exit 1 of a query command such as grep/diff/test, which answers "no").

    >>> is_failed_call(Step(kind="tool_call", tool_name="Bash", input={"command": "grep x f"}, exit_code=1))
    False
    """
    if step.kind != "tool_call":
        return False
    if step.exit_code not in (None, 0):
        command = shell_command(step) or ""
        last = re.split(r"&&|\|\||;|\|", command)[-1]
        return not (step.exit_code == 1 and _BENIGN_EXIT_1.search(last))
    return step.is_error


# ---------------------------------------------------------------------------------------------- signals


def tool_error_rate(turn: Turn, runs: list[tuple[int, TestRun]] | None = None) -> Signal:
    """Share of the turn's tool calls that failed (None when the turn made no tool call); `runs`: the turn's
    `test_runs`, when the caller has them already."""
    calls = [(i, s) for i, s in enumerate(turn.steps) if s.kind == "tool_call"]
    failed = [(i, s) for i, s in calls if is_failed_call(s)]
    # A failing test run is the test telling its news, not a broken tool: `last_test_passed` judges it.
    test_steps = {i for i, _ in (test_runs(turn) if runs is None else runs)}
    failed_tests = [i for i, _ in failed if i in test_steps]
    failed = [(i, s) for i, s in failed if i not in test_steps]
    value = round(len(failed) / len(calls), 4) if calls else None
    detail = f"{len(failed)} of {len(calls)} tool calls failed"
    if failed_tests:
        detail += f" (not counting {len(failed_tests)} failing test run(s))"
    return Signal(
        "tool_error_rate", value, [Evidence(i, describe_step(s) + f": {_last_line(s.output)}") for i, s in failed],
        detail,
    )


def shell_exit_codes(turn: Turn) -> Signal:
    """Exit codes of the turn's shell commands, as {code: count}; evidence lists the non-zero ones."""
    codes: Counter[str] = Counter()
    evidence = []
    for i, s in enumerate(turn.steps):
        if is_shell_call(s) and s.exit_code is not None:
            codes[str(s.exit_code)] += 1
            if s.exit_code != 0:
                evidence.append(Evidence(i, describe_step(s)))
    nonzero = sum(n for c, n in codes.items() if c != "0")
    return Signal("shell_exit_codes", dict(codes), evidence, f"{nonzero} of {sum(codes.values())} non-zero")


def test_runs(turn: Turn) -> list[tuple[int, TestRun]]:
    """Every test run in the turn as (step index, parsed result), in order.

    A step counts when its output holds a runner's summary, or when its command is a test command (then
    its exit code is the verdict).
    """
    runs = []
    for i, s in enumerate(turn.steps):
        if s.kind != "tool_call" or s.output is None and s.exit_code is None:
            continue
        command = shell_command(s)
        parsed = parse_test_output(s.output) if (command is not None or s.tool_name in (None, "")) else None
        if parsed is None and command is not None and looks_like_test_command(command):
            if s.exit_code is None and not s.is_error and not s.output:
                continue
            failed = s.is_error or s.exit_code not in (None, 0)
            parsed = TestRun(command.split()[0], ok=not failed, failed=int(failed),
                             summary=f"exit {s.exit_code}" if s.exit_code is not None else _last_line(s.output))
        if parsed is not None:
            if s.exit_code not in (None, 0) and parsed.ok and looks_like_test_command(command):
                parsed.ok = False  # the summary said ok but the command failed (collection error, coverage gate)
            runs.append((i, parsed))
    return runs


def last_test_passed(turn: Turn, runs: list[tuple[int, TestRun]] | None = None) -> Signal:
    """Whether the turn's last test run passed: True / False, or None when no test ran."""
    runs = test_runs(turn) if runs is None else runs
    if not runs:
        return Signal("last_test_passed", None, [], "no test run in this turn")
    i, run = runs[-1]
    evidence = [Evidence(i, f"{describe_step(turn.steps[i])}: {run.runner}: {run.summary}")]
    return Signal("last_test_passed", run.ok, evidence, f"{len(runs)} test run(s); last {'passed' if run.ok else 'failed'}")


# Compile and lint error lines, each pattern behind substrings it cannot match without one of: a substring
# test is far cheaper than a multi-line regex on a long output, and most outputs hold none of them.
_EXT = r"(?:c|cc|cpp|cxx|h|hpp|go|rs|java|kt|swift|ts|tsx|js|jsx|m)"
_BUILD_ERRORS = tuple((needles, re.compile(pattern, re.M)) for needles, pattern in (
    (("SyntaxError:", "IndentationError:", "TabError:"),
     r"^\s*(File \".*\", line \d+.*\n.*\n.*\n?)?(SyntaxError|IndentationError|TabError):"),
    (("error[E",), r"^error\[E\d{4}\]:"),
    (("error: could not compile",), r"^error: could not compile"),
    ((": error", ": fatal error"), r"^\S+\." + _EXT + r":\d+(?::\d+)?: (?:fatal )?error|^\S+\.py:\d+: error: "),
    (("error TS",), r"^\S+\.(?:ts|tsx)\(\d+,\d+\): error TS\d+|error TS\d+:"),
    ((": E", ": F", ": W"), r"^\S+\.py:\d+:\d+: [EFW]\d{3} "),
    (("Found ",), r"^Found \d+ errors?\b"),
    (("✖",), r"^✖ \d+ problems? \(\d+ errors?"),
    ((".go:",), r"^# \S+\n\S+\.go:\d+:\d+: "),
))


_RARE_BUILD_NEEDLES = ("Found ", "✖", ".go:")


def build_error(text: str | None) -> re.Match[str] | None:
    """The first compile or lint error line in a tool's output (SyntaxError, rustc/gcc/tsc/go errors,
    ruff/flake8/mypy/eslint findings), or None."""
    if not text:
        return None
    if "rror" not in text and ".py:" not in text and not any(n in text for n in _RARE_BUILD_NEEDLES):
        return None  # every pattern below needs one of these: most outputs are done with in three scans
    found = [m for needles, pattern in _BUILD_ERRORS
             if any(n in text for n in needles) and (m := pattern.search(text))]
    return min(found, key=lambda m: m.start()) if found else None


def compile_lint_errors(turn: Turn) -> Signal:
    """Compile and lint errors in shell output (SyntaxError, rustc/gcc/tsc/go errors, ruff/flake8/mypy/eslint
    findings). Value: how many are still unresolved at the end of the turn, i.e. not followed by a clean run
    of the same program."""
    steps = turn.steps
    # Each step's error and program once (not once per earlier error: a long turn made this quadratic).
    errors = [build_error(s.output) if s.kind == "tool_call" else None for s in steps]
    programs = [(shell_command(s) or "").split(" ")[0] for s in steps]
    hits = [(i, programs[i]) for i, error in enumerate(errors) if error]
    unresolved = []
    for i, program in hits:
        later_clean = any(
            is_shell_call(s) and programs[j] == program and not is_failed_call(s) and not errors[j]
            for j, s in enumerate(steps[i + 1:], start=i + 1)
        )
        if not later_clean:
            unresolved.append(i)
    evidence = [
        Evidence(i, f"{describe_step(steps[i])}: {_short(errors[i].group(0))}"  # type: ignore[union-attr]
                 + ("" if i in unresolved else " (fixed later)"))
        for i, _ in hits
    ]
    return Signal("compile_lint_errors", len(unresolved), evidence,
                  f"{len(hits)} step(s) with compile/lint errors, {len(unresolved)} unresolved")


_REJECTED = re.compile(
    r"The user doesn't want to proceed with this tool use|tool use was rejected|user rejected|"
    r"\[Request interrupted by user", re.I,
)


REJECTION_WINDOW = 2000  # a rejected or interrupted call's output is that notice, at its start


def _may_be_rejected(text: str | None) -> bool:
    """A cheap test before _REJECTED (case-insensitive): one of its words, in either case, near the start."""
    head = (text or "")[:REJECTION_WINDOW]
    return any(n in head for n in ("eject", "EJECT", "nterrupt", "NTERRUPT", "roceed", "ROCEED"))


def user_interrupts(turn: Turn) -> Signal:
    """Times the user stopped the agent: interrupted calls, rejected tool uses, 'Request interrupted' marks."""
    evidence = []
    prompt = prompt_step(turn)
    for i, s in enumerate(turn.steps):
        if s is prompt:
            continue  # the request itself is not an interruption, whatever it says
        if s.interrupted or s.meta.get("rejected") or s.meta.get("interrupted"):
            evidence.append(Evidence(i, f"{describe_step(s)}: interrupted/rejected by the user"))
        elif (_may_be_rejected(s.output) and _REJECTED.search(s.output[:REJECTION_WINDOW])) or (
                s.role == "user" and _REJECTED.search(s.text or "")):
            found = _REJECTED.search((s.output or "")[:REJECTION_WINDOW]) or _REJECTED.search(s.text or "")
            evidence.append(Evidence(i, f"{describe_step(s)}: {_short(found.group(0))}"))
    if turn.meta.get("interrupted"):
        evidence.append(Evidence(len(turn.steps) - 1, "turn marked interrupted"))
    return Signal("user_interrupts", len(evidence), evidence, f"{len(evidence)} interruption(s) or rejection(s)")


_CORRECTION = re.compile(
    r"^\s*(no\b|nope\b|undo\b|revert\b|wrong\b|stop\b|that'?s (wrong|not|incorrect|broken)|that is (wrong|not)|"
    r"this is (wrong|not)|it'?s (wrong|broken|still)|(it|this|that) (still|is still)\b|not what i|you broke|you didn'?t|why did you|"
    r"still (fails|failing|broken|doesn'?t|not)|(it |this )?(doesn'?t|didn'?t|does not|did not) work|"
    r"try again|put it back|roll ?back)",
    re.I,
)


def is_correction(prompt: str | None) -> bool:
    """True when a user prompt corrects the agent's previous work ("no", "undo", "that's wrong").

    >>> is_correction("No, that's wrong: keep the old name")
    True
    >>> is_correction("now add a test for it")
    False
    """
    return bool(prompt and _CORRECTION.search(prompt))


def corrected_by_next_turn(turn: Turn, next_turn: Turn | None) -> Signal:
    """True when the user's next prompt corrects this turn's work (evidence: the next prompt)."""
    if next_turn is None or not is_correction(next_turn.prompt):
        return Signal("corrected", False, [], "the next prompt does not correct this turn")
    return Signal("corrected", True, [Evidence(-1, f"turn {next_turn.index} prompt: {_short(next_turn.prompt)!r}")],
                  "the user's next prompt corrects this turn")


def is_edit_call(step: Step) -> bool:
    """True for a call of a file-editing tool that may change a file: an editor tool's `view` only reads.

    >>> is_edit_call(Step(kind="tool_call", tool_name="file_editor", input={"command": "view", "path": "a.py"}))
    False
    """
    if step.kind != "tool_call" or step.tool_name not in EDIT_TOOLS:
        return False
    return not (isinstance(step.input, dict) and step.input.get("command") in _READ_ONLY_EDITOR_COMMANDS)


def final_answer_text(step: Step) -> str | None:
    """The text of a step that answers the user: an agent message, or a call of a tool that is the agent's
    answer (`meta.final_answer`: OpenHands' `finish` with its message); None for anything else.

    >>> final_answer_text(Step(kind="tool_call", tool_name="finish", input={"message": "Done."},
    ...                        meta={"final_answer": True}))
    'Done.'
    """
    if step.kind == "message":
        return step.text if step.role != "user" else None
    if step.meta.get("final_answer") and not step.is_error:
        message = step.input.get("message") if isinstance(step.input, dict) else None
        return message if isinstance(message, str) else step.output or ""
    return None


def _call_key(step: Step) -> str:
    return f"{step.tool_name}:{orjson.dumps(step.input, option=orjson.OPT_SORT_KEYS, default=str).decode()}"


def retries(turn: Turn) -> Signal:
    """Failed commands run again unchanged with nothing edited in between (hoping for a different result)."""
    evidence = []
    previous: tuple[int, Step] | None = None
    for i, s in enumerate(turn.steps):
        if s.kind != "tool_call":
            continue
        if is_edit_call(s):
            previous = None
            continue
        if previous is not None and _call_key(previous[1]) == _call_key(s) and is_failed_call(previous[1]):
            evidence.append(Evidence(i, f"{describe_step(s)}: same call as failed step {previous[0]}"))
        previous = (i, s)
    return Signal("retries", len(evidence), evidence, f"{len(evidence)} unchanged retry(ies) of a failed call")


def loops(turn: Turn, min_repeats: int = 3) -> Signal:
    """Identical calls made `min_repeats` or more times in one turn: the agent going round in circles.
    Value: how many distinct calls looped."""
    seen: dict[str, list[int]] = {}
    for i, s in enumerate(turn.steps):
        if s.kind == "tool_call" and s.tool_name not in ("TodoWrite", "update_plan"):
            seen.setdefault(_call_key(s), []).append(i)
    looped = [idx for idx in seen.values() if len(idx) >= min_repeats]
    evidence = [Evidence(idx[-1], f"{describe_step(turn.steps[idx[-1]])}: made {len(idx)} times (steps "
                         + ", ".join(map(str, idx)) + ")") for idx in looped]
    return Signal("loops", len(looped), evidence, f"{len(looped)} call(s) repeated {min_repeats}+ times")


def turn_size(turn: Turn) -> Signal:
    """Steps after the prompt, tool calls and tokens in the turn (value: number of steps). The step that
    records the prompt is not counted, so a turn has the same size whichever source recorded it."""
    calls = len(turn.tool_calls)
    tokens = turn.usage.input_tokens + turn.usage.output_tokens
    n = len(steps_after_prompt(turn))
    return Signal("turn_size", n, [], f"{n} steps, {calls} tool calls, {tokens} tokens")


def _edit_pairs(step: Step) -> list[tuple[str, str, str]]:
    """(path, old, new) replacements an edit tool call made."""
    data = step.input if isinstance(step.input, dict) else {}
    path = str(data.get("file_path") or data.get("path") or "")
    if isinstance(data.get("edits"), list):
        return [(path, str(e.get("old_string", "")), str(e.get("new_string", ""))) for e in data["edits"]
                if isinstance(e, dict)]
    if "old_string" in data or "new_string" in data:
        return [(path, str(data.get("old_string", "")), str(data.get("new_string", "")))]
    if "old_str" in data or "new_str" in data:
        return [(path, str(data.get("old_str", "")), str(data.get("new_str", "")))]
    return []


_GIT_REVERT = re.compile(r"\bgit (checkout|restore)\b(.*)|\bgit reset --hard\b|\bgit stash\b(?! (pop|apply|list))")


def reverted_edits(turn: Turn) -> Signal:
    """File edits undone later in the same turn: an edit swapped back (new → old), or the file restored
    with `git checkout -- F` / `git restore F` / `git reset --hard`. Value: number of edits undone."""
    edits: list[tuple[int, str, str, str]] = []
    reverted: dict[int, Evidence] = {}
    for i, s in enumerate(turn.steps):
        if s.kind != "tool_call":
            continue
        if is_edit_call(s) and not is_failed_call(s):
            for path, old, new in _edit_pairs(s):
                for j, p, o, n in edits:
                    if j not in reverted and p == path and o == new and n == old and o != n:
                        reverted[j] = Evidence(i, f"{describe_step(s)}: undoes the edit of step {j} to {path}")
                edits.append((i, path, old, new))
            if not _edit_pairs(s):
                edits.append((i, _input_text(s), "", ""))
        command = shell_command(s)
        if command and not is_failed_call(s):
            m = _GIT_REVERT.search(command)
            if m:
                args = m.group(2) if m.lastindex and m.group(1) else None
                for j, p, _, _ in edits:
                    if j in reverted:
                        continue
                    if args is None or (p and (p in args or p.rsplit("/", 1)[-1] in args)) or args.strip() in (".", "-- ."):
                        reverted[j] = Evidence(i, f"{describe_step(s)}: restores {p or 'the file'} edited at step {j}")
    n_edits = len({j for j, *_ in edits})
    return Signal("reverted_edits", len(reverted), sorted(reverted.values(), key=lambda e: e.step),
                  f"{len(reverted)} of {n_edits} edit(s) undone later")


_GAVE_UP = re.compile(
    r"\bI (couldn'?t|could not|was unable|wasn'?t able|am unable|can'?t|cannot) (to )?"
    r"(fix|get|make|find|resolve|complete|figure|install|build|compile|run|reproduce|solve|finish|pass)|\bunable to (fix|complete|resolve)|\bstill (fail|failing|broken)"
    r"|\bgave up\b|\bI'?m stuck\b",
    re.I,
)


# words one of which every _GAVE_UP match holds (lower case): a final message without them skips the regex
_GAVE_UP_NEEDLES = ("could", "able", "can't", "cant", "cannot", "still", "gave up", "stuck")


def admits_failure(text: str) -> re.Match[str] | None:
    """The phrase of a message that admits the work failed ("I could not get it to pass"), or None."""
    low = text.lower()
    return _GAVE_UP.search(text) if any(n in low for n in _GAVE_UP_NEEDLES) else None


def ended_fulfilled(turn: Turn) -> Signal:
    """Whether the turn ended with the request done: the agent's last step is a final message (Stop after
    success), no call was left without a result, and that message does not admit failure.
    Value 1.0 done; 0.25 ended on a tool call, after a failed last call, or admitting failure; 0.0 no answer
    or died mid-call. Calls marked `meta.from_reply` were carried out from the final reply after it was sent
    (Aider applies the edits and runs the commands its reply holds): they follow the final message without
    making it any less final, but one that failed counts as a failed last call. A call whose source never
    records results (`meta.output_recorded` false) did not die mid-call for lacking one."""
    if not turn.steps:
        return Signal("ended_fulfilled", 0.0, [Evidence(-1, "the agent never answered this prompt")], "no steps")
    agent = [(i, s) for i, s in enumerate(turn.steps) if s.role != "user" or s.kind == "tool_call"]
    after_reply = []
    while agent and agent[-1][1].meta.get("from_reply") and any(s.kind == "message" for _, s in agent):
        after_reply.insert(0, agent.pop())
    if not agent:
        return Signal("ended_fulfilled", 0.0, [Evidence(-1, "the agent never answered this prompt")], "no agent step")
    i, last = agent[-1]
    answer = final_answer_text(last)
    if last.kind == "tool_call" and answer is None and last.output is None and not last.is_error \
            and last.meta.get("output_recorded", True):
        return Signal("ended_fulfilled", 0.0, [Evidence(i, f"{describe_step(last)}: no result recorded")],
                      "ended mid-call")
    if answer is None:
        return Signal("ended_fulfilled", 0.25, [Evidence(i, f"{describe_step(last)}: last step, no final answer")],
                      "ended on a tool call without a final message")
    m = admits_failure(answer)
    if m:
        return Signal("ended_fulfilled", 0.25, [Evidence(i, f"final message admits failure: {_short(m.group(0))!r}")],
                      "final message admits the task is not done")
    calls = [(j, s) for j, s in agent if s.kind == "tool_call" and not s.meta.get("final_answer")]
    failed = [(j, s) for j, s in after_reply if is_failed_call(s)]
    if failed or calls and is_failed_call(calls[-1][1]):
        j, s = failed[0] if failed else calls[-1]
        return Signal("ended_fulfilled", 0.25, [Evidence(j, f"{describe_step(s)}: {_last_line(s.output)}")],
                      "the last tool call failed and nothing after it fixed that")
    return Signal("ended_fulfilled", 1.0, [Evidence(i, f"final message: {_short(answer, 70)!r}")],
                  "ended with a final answer")


def edit_count(turn: Turn) -> int:
    return sum(1 for s in turn.steps if is_edit_call(s))


def turn_signals(turn: Turn, next_turn: Turn | None = None, runs: list[tuple[int, TestRun]] | None = None,
                 ) -> dict[str, Signal]:
    """All signals of one turn, by name; `runs`: the turn's `test_runs`, when the caller has them."""
    runs = test_runs(turn) if runs is None else runs  # parsed once: several signals read them
    signals = [
        tool_error_rate(turn, runs), shell_exit_codes(turn), last_test_passed(turn, runs), compile_lint_errors(turn),
        user_interrupts(turn), corrected_by_next_turn(turn, next_turn), retries(turn), loops(turn),
        turn_size(turn), reverted_edits(turn), ended_fulfilled(turn),
    ]
    out = {s.name: s for s in signals}
    out["edits"] = Signal("edits", edit_count(turn), [], "file edits in this turn")
    return out
