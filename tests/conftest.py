"""Shared fixtures. Every test runs with a temporary HOME and BASHGYM_HOME: nothing touches the user's
~/.claude or ~/.bashgym (STYLE.md §17)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bashgym.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BASHGYM_HOME", str(home / ".bashgym"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture()
def store(isolated_home: Path) -> Store:
    s = Store.open()
    yield s
    s.close()


@pytest.fixture()
def fixtures_dir() -> Path:
    return FIXTURES


def pytest_configure(config: pytest.Config) -> None:
    # Training tests run on the CPU with as many threads as the machine has, no more (2 in CI).
    os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Where scripts/test.sh installed everything (root on Debian: BASHGYM_NO_SKIPS=1, as in CI), a skipped
    test is a failure: a skip there means a test silently stopped running."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("BASHGYM_NO_SKIPS") == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped where every test must run (BASHGYM_NO_SKIPS=1): {reason}"
