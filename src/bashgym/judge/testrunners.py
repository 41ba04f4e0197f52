"""Read a test runner's verdict from its printed output: pytest, unittest, go test, cargo test, jest,
vitest, mocha and node's TAP reporter (what `npm test` usually wraps).

A shell step's exit code alone says little (`pytest | tail` exits 0 on failure); the summary line says how
many tests ran and failed. `parse_test_output` returns None when the text holds no runner's summary, so a
caller can fall back to the exit code of a command that looks like a test command (`looks_like_test_command`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# Strip terminal colours before matching: jest/vitest/cargo colour their summaries.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(slots=True)
class TestRun:
    """One runner's summary: counts, whether it passed, and the line that said so (the evidence)."""

    __test__ = False  # not a pytest test class

    runner: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    ok: bool = False
    summary: str = ""

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(pattern: str, text: str) -> int:
    """Sum every `N <word>` match of pattern (runners may print several summaries, e.g. cargo per crate)."""
    return sum(int(m) for m in re.findall(pattern, text, re.M))


_PYTEST_SUMMARY = re.compile(
    r"^[^\n]*?(?:\b\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b[^\n]* in [\d.]+s|no tests ran "
    r"in [\d.]+s)[^\n]*$", re.M)


def _parse_pytest(text: str) -> TestRun | None:
    # "===== 2 failed, 10 passed, 1 skipped in 0.52s =====" or, with -q, "2 failed, 10 passed in 0.52s".
    if " in " not in text:
        return None
    lines = _PYTEST_SUMMARY.findall(text)
    if not lines:
        return None
    line = lines[-1]
    run = TestRun(
        "pytest",
        passed=_count(r"(\d+) passed", line) + _count(r"(\d+) xpassed", line),
        failed=_count(r"(\d+) failed", line),
        errors=_count(r"(\d+) errors?\b", line),
        skipped=_count(r"(\d+) skipped", line) + _count(r"(\d+) xfailed", line),
        summary=line.strip(" =\t"),
    )
    run.ok = run.failed == 0 and run.errors == 0 and run.passed > 0
    return run


def _parse_unittest(text: str) -> TestRun | None:
    # "Ran 5 tests in 0.003s" then a blank line and "OK", "OK (skipped=1)" or "FAILED (failures=1, errors=2)".
    found = list(re.finditer(r"^Ran (\d+) tests? in [\d.]+s\s*\n\s*\n?(OK|FAILED)(.*)$", text, re.M))
    if not found:
        return None
    m = found[-1]
    ran, verdict, rest = int(m.group(1)), m.group(2), m.group(3)
    failed = _count(r"failures=(\d+)", rest)
    errors = _count(r"errors=(\d+)", rest)
    skipped = _count(r"skipped=(\d+)", rest)
    run = TestRun(
        "unittest", passed=max(0, ran - failed - errors - skipped), failed=failed, errors=errors,
        skipped=skipped, summary=f"Ran {ran} tests: {verdict}{rest}".strip(),
    )
    run.ok = verdict == "OK" and ran > 0
    return run


def _parse_go(text: str) -> TestRun | None:
    # Package lines "ok  \texample.com/pkg\t0.01s" / "FAIL\texample.com/pkg\t0.02s", test lines "--- FAIL: TestX".
    pkg_ok = re.findall(r"^ok\s+\S+\s+(?:[\d.]+s|\(cached\))", text, re.M)
    pkg_fail = re.findall(r"^FAIL\s+\S+\s+(?:[\d.]+s|\[build failed\]|\[setup failed\])", text, re.M)
    if not pkg_ok and not pkg_fail and not re.search(r"^--- (PASS|FAIL)", text, re.M):
        return None
    test_pass = len(re.findall(r"^\s*--- PASS:", text, re.M))
    test_fail = len(re.findall(r"^\s*--- FAIL:", text, re.M))
    build_failed = len(re.findall(r"\[build failed\]|\[setup failed\]", text))
    run = TestRun(
        "go test",
        passed=test_pass or len(pkg_ok),
        failed=test_fail or (len(pkg_fail) - build_failed),
        errors=build_failed,
        summary=(pkg_fail or pkg_ok or ["--- FAIL" if test_fail else "--- PASS"])[-1].replace("\t", " ").strip(),
    )
    run.ok = not pkg_fail and test_fail == 0 and (run.passed > 0)
    return run


def _parse_cargo(text: str) -> TestRun | None:
    # "test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s"
    results = re.findall(r"^test result: (ok|FAILED)\. (.*)$", text, re.M)
    compile_failed = re.search(r"^error: could not compile", text, re.M)
    if not results:
        if compile_failed:
            return TestRun("cargo test", errors=1, ok=False, summary=compile_failed.group(0))
        return None
    body = " ".join(r[1] for r in results)
    run = TestRun(
        "cargo test",
        passed=_count(r"(\d+) passed", body),
        failed=_count(r"(\d+) failed", body),
        skipped=_count(r"(\d+) ignored", body),
        errors=1 if compile_failed else 0,
        summary="test result: " + ". ".join(results[-1]),
    )
    run.ok = all(r[0] == "ok" for r in results) and not compile_failed
    return run


def _js_summary_run(runner: str, line: str, groups: list[str], summary: str) -> TestRun:
    """jest and vitest print the same counts: "N failed", "N passed", "N skipped", "N todo" on a tests line,
    and failed suites/files on a second line (a suite that failed to load runs no test)."""
    failed = _count(r"(\d+) failed", line)
    group_failed = _count(r"(\d+) failed", groups[-1]) if groups else 0
    run = TestRun(
        runner,
        passed=_count(r"(\d+) passed", line),
        failed=failed,
        skipped=_count(r"(\d+) skipped", line) + _count(r"(\d+) todo", line),
        errors=group_failed if not failed else 0,
        summary=summary,
    )
    run.ok = run.failed == 0 and run.errors == 0 and run.passed > 0
    return run


def _parse_jest(text: str) -> TestRun | None:
    # "Tests:       1 failed, 4 passed, 5 total" (and "Test Suites: 1 failed, 2 passed, 3 total").
    lines = re.findall(r"^Tests:\s+(.*\d+ total.*)$", text, re.M)
    if not lines:
        return None
    suites = re.findall(r"^Test Suites:\s+(.*)$", text, re.M)
    return _js_summary_run("jest", lines[-1], suites, "Tests: " + lines[-1].strip())


def _parse_vitest(text: str) -> TestRun | None:
    # "      Tests  1 failed | 5 passed (6)" and " Test Files  1 failed | 2 passed (3)".
    lines = re.findall(r"^\s*Tests\s+(\d+ .*\(\d+\))\s*$", text, re.M)
    if not lines:
        return None
    files = re.findall(r"^\s*Test Files\s+(.*)$", text, re.M)
    return _js_summary_run("vitest", lines[-1], files, "Tests " + lines[-1].strip())


def _parse_mocha(text: str) -> TestRun | None:
    # "  5 passing (12ms)", "  1 pending", "  2 failing"
    passing = re.findall(r"^\s*(\d+) passing \(", text, re.M)
    if not passing:
        return None
    failing = _count(r"^\s*(\d+) failing\s*$", text)
    run = TestRun(
        "mocha",
        passed=sum(int(p) for p in passing),
        failed=failing,
        skipped=_count(r"^\s*(\d+) pending\s*$", text),
        summary=f"{passing[-1]} passing, {failing} failing",
    )
    run.ok = failing == 0 and run.passed > 0
    return run


def _parse_tap(text: str) -> TestRun | None:
    # node --test: "# tests 6", "# pass 5", "# fail 1", "# skipped 0"
    if not re.search(r"^# tests \d+", text, re.M) or not re.search(r"^# pass \d+", text, re.M):
        return None
    run = TestRun(
        "node --test",
        passed=_count(r"^# pass (\d+)", text),
        failed=_count(r"^# fail (\d+)", text),
        skipped=_count(r"^# skipped (\d+)", text) + _count(r"^# todo (\d+)", text),
        summary=" ".join(re.findall(r"^# (?:tests|pass|fail) \d+", text, re.M)),
    )
    run.ok = run.failed == 0 and run.passed > 0
    return run


# Order matters: a more specific signature wins (vitest before jest, unittest before pytest's looser match).
PARSERS = (_parse_cargo, _parse_go, _parse_vitest, _parse_jest, _parse_unittest, _parse_pytest, _parse_mocha,
           _parse_tap)
# Text each parser cannot match without (a substring test is far cheaper than its regexes on a long log):
# most tool outputs hold no test summary at all, and are skipped by one pass of `in`.
_NEEDS = {_parse_cargo: ("test result: ", "error: could not compile"),
          _parse_go: ("\nok ", "\nok\t", "\nFAIL", "--- PASS", "--- FAIL"),
          _parse_vitest: ("Tests",), _parse_jest: ("Tests:",), _parse_unittest: ("Ran ",),
          _parse_pytest: (" in ",),  # then, in _parse_pytest, its summary regex
          _parse_mocha: (" passing (",), _parse_tap: ("# tests ",)}


def _may_match(parser: Any, text: str) -> bool:
    if parser is _parse_go and text.startswith(("ok", "FAIL")):  # the needles above want a line start
        return True
    for needle in _NEEDS[parser]:  # a loop, not any() over a generator: called for every parser and output
        if needle in text:
            return True
    return False

_TEST_COMMAND = re.compile(
    r"(^|[\s;&|(])("
    r"pytest|py\.test|python3? -m (pytest|unittest)|python3? (\S*/)?(test_\w+|\w+_test)\.py|tox|nox|"
    r"go test|cargo (test|nextest)|"
    r"(npx |pnpm |yarn |bunx? )?(jest|vitest|mocha)|"
    r"(npm|pnpm|yarn|bun) (run )?test|node --test|"
    r"make (test|check)|ctest|mvn test|gradle test|\./gradlew test|rspec|phpunit"
    r")\b"
)


SUMMARY_WINDOW = 64_000


def parse_test_output(text: str | None) -> TestRun | None:
    """The runner summary found in a command's output, or None.

    >>> parse_test_output("===== 1 failed, 3 passed in 0.20s =====").failed
    1
    """
    if not text:
        return None
    if len(text) > SUMMARY_WINDOW:  # runners print their summary last: a huge log is read from its tail
        text = text[-SUMMARY_WINDOW:]
    clean = _ANSI.sub("", text) if "\x1b" in text else text
    if "\r\n" in clean:
        clean = clean.replace("\r\n", "\n")
    for parser in PARSERS:
        if not _may_match(parser, clean):
            continue
        run = parser(clean)
        if run is not None:
            if "npm ERR! Test failed" in clean or "npm error Test failed" in clean:
                run.ok = False
            return run
    return None


def looks_like_test_command(command: str | None) -> bool:
    """True for commands that run a test suite (`pytest -q`, `go test ./...`, `npm test`, `cargo test`).

    >>> looks_like_test_command("cd app && python -m pytest -x tests/")
    True
    >>> looks_like_test_command("pip install pytest")
    False
    """
    if not command:
        return False
    command = re.sub(r"'[^']*'|\"[^\"]*\"", "''", command)  # words inside quotes are arguments, not commands
    if re.search(r"\b(pip3?|uv pip|npm|pnpm|yarn) (install|add|i)\b", command) and not re.search(
        r"&&.*\b(test|pytest)\b", command
    ):
        return False
    return bool(_TEST_COMMAND.search(command))
