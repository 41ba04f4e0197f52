"""Shared fixtures. Every test runs with a temporary HOME and BASHGYM_HOME: nothing touches the user's
~/.claude or ~/.bashgym (STYLE.md §17)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bashgym.store import Store
from pg_server import PostgresServer
from ray_session import start_local_ray

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BASHGYM_HOME", str(home / ".bashgym"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    for name in ("OPENHANDS_CONVERSATIONS_DIR", "OPENHANDS_PERSISTENCE_DIR"):  # OpenHands' default root moves with them
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BASHGYM_STORE_URL", "")  # empty = unset; restored after a test that sets it
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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole test session (Debian's package, on 127.0.0.1), stopped
    afterwards even when tests fail. Tests take a fresh database each (`pg_url`)."""
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ray_session() -> Iterator[dict]:
    """One real local Ray (2 CPUs) for the whole test session of this worker, shut down at its end: tests
    that run an engine on Ray share it ({"address": "local", "cpus": 2, ...})."""
    yield from start_local_ray()


@pytest.fixture()
def pg_url(pg_server: PostgresServer) -> str:
    """A new, empty database on the session's server: its URL (with the superuser's password)."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a backend-parametrized test's store lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "bashgym.db")
    return request.getfixturevalue("pg_server").create_database()


@pytest.fixture()
def fixtures_dir() -> Path:
    return FIXTURES


def pytest_configure(config: pytest.Config) -> None:
    # Training tests run on the CPU with the cores shared out between the test workers: two workers with two
    # torch threads each on CI's two cores spent 3x the CPU time (35 s vs 107 s user for one SFT test) in
    # OpenMP threads spinning against each other.
    # (The controller sets it before it starts the workers, which inherit it; `-n auto` counts as all cores.)
    workers = getattr(config.option, "numprocesses", None) or int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    workers = workers if isinstance(workers, int) else (os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False  # keep the order pytest_collection_modifyitems gives


# The heaviest modules, heaviest first (seconds of a 2-worker run, from --durations: 239, 122, 100, 65, 60, 40,
# 35). `--dist loadfile` hands whole files to workers as they free up; xdist's own order (most tests first)
# started test_demo.py (4 minutes) near the end of a run, and one worker idled while it finished.
HEAVY_FIRST = ("test_demo.py", "test_factory_cli.py", "test_train_launch.py", "test_tutorial.py",
               "test_import_sources.py", "test_train.py", "test_gym_timeouts.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files in the order workers should take them: the heaviest first, then the others by number of tests
    (xdist's default), each file's tests in their own order."""
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    per_file = Counter(item.path for item in items)
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), -per_file[item.path], str(item.path)))


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
