"""Test-runner summaries parsed from real-looking output of each runner."""

from __future__ import annotations

import pytest

from bashgym.judge.testrunners import looks_like_test_command, parse_test_output
from judge_cases import builder as outputs

CASES = [
    ("pytest-fail", outputs.PYTEST_FAIL, "pytest", False, 11, 1),
    ("pytest-pass", outputs.PYTEST_PASS, "pytest", True, 12, 0),
    ("pytest-q-skipped", "....s.\n5 passed, 1 skipped in 0.22s", "pytest", True, 5, 0),
    ("pytest-errors", "E\n==== 2 passed, 1 error in 0.50s ====", "pytest", False, 2, 0),
    ("unittest-pass", outputs.UNITTEST_PASS, "unittest", True, 4, 0),
    ("unittest-fail", outputs.UNITTEST_FAIL, "unittest", False, 2, 2),
    ("go-fail", outputs.GO_FAIL, "go test", False, 0, 1),
    ("go-pass", outputs.GO_PASS, "go test", True, 2, 0),
    ("go-verbose", "=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n--- PASS: TestB (0.00s)\nPASS\n"
     "ok  \tex.com/m\t0.002s", "go test", True, 2, 0),
    ("cargo-pass", outputs.CARGO_PASS, "cargo test", True, 4, 0),
    ("cargo-fail", outputs.CARGO_TEST_FAIL, "cargo test", False, 3, 1),
    ("jest-fail", outputs.JEST_FAIL, "jest", False, 7, 1),
    ("jest-pass", outputs.JEST_PASS, "jest", True, 8, 0),
    ("vitest-pass", outputs.VITEST_PASS, "vitest", True, 8, 0),
    ("vitest-fail", outputs.VITEST_FAIL, "vitest", False, 6, 2),
    ("npm-mocha", outputs.MOCHA_PASS, "mocha", True, 2, 0),
    ("node-test", outputs.TAP_PASS, "node --test", True, 2, 0),
]


@pytest.mark.parametrize(("name", "text", "runner", "ok", "passed", "failed"), CASES, ids=[c[0] for c in CASES])
def test_runner_summary_is_parsed(name: str, text: str, runner: str, ok: bool, passed: int, failed: int) -> None:
    run = parse_test_output(text)
    assert run is not None
    assert (run.runner, run.ok, run.passed, run.failed) == (runner, ok, passed, failed)
    assert run.summary


def test_cargo_compile_error_is_a_failed_run() -> None:
    run = parse_test_output(outputs.CARGO_COMPILE_FAIL)
    assert run is not None and run.runner == "cargo test" and not run.ok and run.errors == 1


def test_go_build_failure_is_an_error_not_a_pass() -> None:
    run = parse_test_output("# ex.com/m\n./m.go:3:2: undefined: foo\nFAIL\tex.com/m [build failed]\nFAIL")
    assert run is not None and not run.ok and run.errors == 1


def test_colours_are_ignored() -> None:
    coloured = "\x1b[1mTests:\x1b[22m       \x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m, 4 passed, 5 total"
    run = parse_test_output(coloured)
    assert run is not None and run.runner == "jest" and run.failed == 1


def test_npm_reporting_failure_overrides_a_passing_summary() -> None:
    run = parse_test_output(outputs.MOCHA_PASS + "\nnpm ERR! Test failed.  See above for more details.")
    assert run is not None and not run.ok


def test_pytest_no_tests_collected_is_not_a_pass() -> None:
    run = parse_test_output("no tests ran in 0.01s")
    assert run is not None and not run.ok and run.total == 0


@pytest.mark.parametrize("text", ["", None, "Compiling...\nDone", "hello world", "error: file not found"])
def test_output_without_a_summary_gives_none(text: str | None) -> None:
    assert parse_test_output(text) is None


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pytest -q", True), ("python -m pytest tests/", True), ("python3 -m unittest discover", True),
        ("go test ./...", True), ("cargo test --lib", True), ("npx jest src", True), ("npx vitest run", True),
        ("npm test", True), ("yarn test", True), ("pnpm run test", True), ("node --test", True),
        ("cd api && make test", True), ("pip install pytest", False), ("npm install", False),
        ("cat tests/test_a.py", False), ("git commit -m 'fix pytest config'", False), ("", False),
    ],
)
def test_test_commands_are_recognised(command: str, expected: bool) -> None:
    assert looks_like_test_command(command) is expected
