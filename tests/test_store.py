"""The store: migrations from a blank database and from every older schema, round trips, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bashgym.errors import BashgymError, NotFoundError
from bashgym.schema import Session, Step, Turn, Usage
from bashgym.store import MIGRATIONS, Store, now_iso


def sample(sid: str = "s-1", output: str = "ok") -> Session:
    return Session(
        id=sid, source="claude_code", project="/w/p", cwd="/w/p", models=["m"], started_at="2026-11-20T10:00:00Z",
        usage=Usage(10, 5, 1, 2),
        turns=[Turn(index=0, prompt="run it", usage=Usage(10, 5), steps=[
            Step(kind="message", role="user", text="run it"),
            Step(kind="tool_call", tool_name="Bash", call_id="t1", input={"command": "make"}, output=output,
                 exit_code=0, duration_ms=12, meta={"k": [1, 2]}),
            Step(kind="message", role="assistant", text="done", thinking="hmm"),
        ])],
        meta={"compactions": 1},
    )


def test_blank_database_gets_every_migration_in_order(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        assert store.applied_migrations() == sorted(fn.__name__ for fn in MIGRATIONS)
        assert [fn.__name__ for fn in MIGRATIONS] == sorted(fn.__name__ for fn in MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store(tmp_path / "db") as again:  # reopening applies nothing twice
        assert again.migrate() == []


@pytest.mark.parametrize("applied", range(1, len(MIGRATIONS)), ids=lambda n: f"after-{MIGRATIONS[n - 1].__name__}")
def test_every_older_schema_migrates_and_keeps_its_data(tmp_path: Path, applied: int) -> None:
    """A store left at any older migration opens, gets the rest, and keeps what it held."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for fn in MIGRATIONS[:applied]:
        db.execute("BEGIN")
        fn(db)
        db.execute("INSERT INTO migrations VALUES (?, ?)", (fn.__name__, now_iso()))
        db.execute("COMMIT")
    db.execute(
        "INSERT INTO sessions (id, source, n_turns, n_steps, n_tool_calls, schema_version, imported_at) "
        "VALUES ('old-1', 'claude_code', 0, 0, 0, 1, '2026-01-01')"
    )
    db.close()
    with Store(path) as store:
        assert len(store.applied_migrations()) == len(MIGRATIONS)
        assert store.get_session("old-1").source == "claude_code"
        with store.transaction():
            store.save_session(sample())
        assert store.get_session("s-1").to_dict() == sample().to_dict()


def test_session_round_trip_is_exact_including_long_compressed_outputs(store: Store) -> None:
    long = "line ✓ \x1b[31mred\x1b[0m\n" * 5000
    for sid, output in (("short", "ok"), ("long", long)):
        with store.transaction():
            store.save_session(sample(sid, output))
        assert store.get_session(sid).to_dict() == sample(sid, output).to_dict()
    raw = store.db.execute("SELECT output, output_z FROM steps WHERE session_id = 'long' AND idx = 1").fetchone()
    assert raw[0] is None and len(raw[1]) < len(long) / 10  # stored compressed


def test_every_step_shape_round_trips_field_for_field(store: Store) -> None:
    """Steps are written with only the columns their shape uses; whatever the shape, nothing is lost."""
    long = "x ✓\n" * 2000
    steps = [
        Step(kind="message", role="user", text="hi", timestamp="2026-11-20T10:00:00Z"),
        Step(kind="message", role="assistant", text="", thinking="plan", model="m", meta={"redacted_thinking": 1}),
        Step(kind="tool_call", tool_name="Bash", call_id="c1", input={"command": "ls"}, output="a\nb", exit_code=0,
             duration_ms=5, timestamp="2026-11-20T10:00:01Z", model="m"),
        Step(kind="tool_call", tool_name="Bash", call_id="c2", input={"command": "cat big"}, output=long,
             is_error=True, exit_code=2, meta={"stderr_present": True}),
        Step(kind="tool_call", tool_name="Task", call_id="c3", input="raw", interrupted=True, meta={"no_result": True}),
        Step(kind="tool_call", role="tool", tool_name="shell", text="said", thinking="thought", output=long),
        Step(kind="message", role="system", text="", exit_code=1),
        Step(kind="message", role="assistant", text="", duration_ms=7, is_error=True),
        Step(kind="tool_call", tool_name=None, call_id="orphan", output="", meta={"orphan_result": True}),
    ]
    session = Session(id="shapes", source="codex", turns=[Turn(index=0, prompt="hi", steps=steps)])
    with store.transaction():
        store.save_session(session)
    assert [s for t in store.get_session("shapes").turns for s in t.steps] == steps


def test_saving_again_replaces_instead_of_adding(store: Store) -> None:
    for output in ("first", "second"):
        with store.transaction():
            store.save_session(sample(output=output))
    assert store.count_sessions() == 1
    assert store.get_session("s-1").turns[0].steps[1].output == "second"
    assert store.db.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 3


def test_ids_resolve_by_unique_prefix_and_say_when_ambiguous(store: Store) -> None:
    with store.transaction():
        for sid in ("abc-1", "abc-2", "xyz"):
            store.save_session(sample(sid))
    assert store.resolve_session_id("xy") == "xyz"
    with pytest.raises(BashgymError, match="ambiguous"):
        store.resolve_session_id("abc")
    with pytest.raises(NotFoundError, match="no session"):
        store.resolve_session_id("nope")


def test_filters_search_and_unknown_filter(store: Store) -> None:
    with store.transaction():
        store.save_session(sample("a", output="segfault in parser"))
        store.save_session(sample("b", output="all good"))
    assert [r["id"] for r in store.list_sessions(search="segfault")] == ["a"]
    assert store.count_sessions(project="/w/p", since="2026-11-01") == 2
    with pytest.raises(BashgymError, match="unknown session filter"):
        store.list_sessions(colour="red")


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.save_session(sample())
        raise RuntimeError("killed half way")
    assert store.count_sessions() == 0


def test_concurrent_writers_wait_for_each_other(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Store(tmp_path / "db") as store:
                for i in range(20):
                    with store.transaction():
                        store.save_session(sample(f"w{n}-{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Store(tmp_path / "db") as store:
        assert store.count_sessions() == 80
