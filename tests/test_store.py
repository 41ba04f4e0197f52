"""The store, on both backends (a SQLite file and a real PostgreSQL server): migrations from a blank database
and from every older schema, round trips, search, concurrency; the same results on both."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from bashgym.errors import BashgymError, NotFoundError
from bashgym.schema import Session, Step, Turn, Usage
from bashgym.store import MIGRATIONS, Store, now_iso

NAMES = [fn.__name__ for fn in MIGRATIONS]


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


@pytest.fixture()
def bstore(store_location: str) -> Store:
    """A migrated store on each backend."""
    s = Store(store_location)
    yield s
    s.close()


def test_blank_database_gets_every_migration_in_order(store_location: str) -> None:
    with Store(store_location) as store:
        assert store.applied_migrations() == sorted(NAMES)
        assert NAMES == sorted(NAMES)
    with Store(store_location) as again:  # reopening applies nothing twice
        assert again.migrate() == []


def test_sqlite_store_is_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("stop_before", NAMES[1:], ids=lambda n: f"before-{n}")
def test_every_older_schema_migrates_and_keeps_its_data(store_location: str, stop_before: str) -> None:
    """A store left at any shipped version (built by migrate(stop_before=...)) keeps what it held once
    migrated: SQLite migrates itself on open; a team store asks for `bashgym store migrate` first."""
    with Store(store_location, migrate=False) as old:
        assert old.migrate(stop_before=stop_before) == NAMES[:NAMES.index(stop_before)]
        with old.transaction():
            old.db.execute(
                "INSERT INTO sessions (id, source, n_turns, n_steps, n_tool_calls, schema_version, imported_at) "
                "VALUES ('old-1', 'claude_code', 0, 0, 0, 1, '2026-01-01')"
            )
    if store_location.startswith("postgresql"):
        with pytest.raises(BashgymError, match=r"schema version \d+ .*bashgym store migrate") as info:
            Store(store_location)
        assert "***" in str(info.value) and store_location.split(":")[2].split("@")[0] not in str(info.value)
        Store(store_location, migrate=True).close()
    with Store(store_location) as store:
        assert store.applied_migrations() == NAMES
        assert store.get_session("old-1").source == "claude_code"
        with store.transaction():
            store.save_session(sample())
        assert store.get_session("s-1").to_dict() == sample().to_dict()


def test_a_store_from_a_newer_bashgym_is_refused_naming_both_versions(store_location: str) -> None:
    with Store(store_location) as store:
        store.db.execute("INSERT INTO migrations VALUES (?, ?)", ("m042_from_the_future", now_iso()))
    with pytest.raises(BashgymError, match=r"schema version 42 \(m042_from_the_future\).*version 7, "
                                           r"m007_team_origin\): upgrade bashgym"):
        Store(store_location)


def test_session_round_trip_is_exact_including_long_compressed_outputs(bstore: Store) -> None:
    long = "line ✓ \x1b[31mred\x1b[0m\n" * 5000
    for sid, output in (("short", "ok"), ("long", long)):
        with bstore.transaction():
            bstore.save_session(sample(sid, output))
        assert bstore.get_session(sid).to_dict() == sample(sid, output).to_dict()
    raw = bstore.db.execute("SELECT output, output_z FROM steps WHERE session_id = 'long' AND idx = 1").fetchone()
    assert raw[0] is None and len(raw[1]) < len(long) / 10  # stored compressed


def test_every_step_shape_round_trips_field_for_field(bstore: Store) -> None:
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
    with bstore.transaction():
        bstore.save_session(session)
    assert [s for t in bstore.get_session("shapes").turns for s in t.steps] == steps


def test_saving_again_replaces_instead_of_adding(bstore: Store) -> None:
    for output in ("first", "second"):
        with bstore.transaction():
            bstore.save_session(sample(output=output))
    assert bstore.count_sessions() == 1
    assert bstore.get_session("s-1").turns[0].steps[1].output == "second"
    assert bstore.db.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 3


def test_ids_resolve_by_unique_prefix_and_say_when_ambiguous(bstore: Store) -> None:
    with bstore.transaction():
        for sid in ("abc-1", "abc-2", "xyz", "a_c"):
            bstore.save_session(sample(sid))
    assert bstore.resolve_session_id("xy") == "xyz"
    assert bstore.resolve_session_id("a_") == "a_c"  # LIKE wildcards in a prefix are literal
    with pytest.raises(BashgymError, match="ambiguous: abc-1, abc-2"):
        bstore.resolve_session_id("abc")
    with pytest.raises(NotFoundError, match="no session with id 'nope'"):
        bstore.resolve_session_id("nope")


def test_filters_full_text_search_and_unknown_filter(bstore: Store) -> None:
    with bstore.transaction():
        bstore.save_session(sample("a", output="segfault in the Parser module"))
        bstore.save_session(sample("b", output="all good here"))
    assert [r["id"] for r in bstore.list_sessions(search="segfault")] == ["a"]
    assert [r["id"] for r in bstore.list_sessions(search="segf*")] == ["a"]  # prefix
    assert [r["id"] for r in bstore.list_sessions(search='"in the parser"')] == ["a"]  # phrase, any case
    assert [r["id"] for r in bstore.list_sessions(search='"parser in"')] == []  # words out of order
    assert bstore.list_sessions(search='AND OR "') == []  # operators are words: no syntax error
    assert bstore.count_sessions(project="/W/P", since="2026-11-01") == 2  # LIKE ignores case on both
    rows, total = bstore.search_sessions("segfault")
    assert total == 1 and rows[0]["id"] == "a"
    snippet = bstore.search_snippets("segfault", ["a", "b"])
    assert list(snippet) == ["a"] and "\x02segfault\x03" in snippet["a"]
    with pytest.raises(BashgymError, match="unknown session filter"):
        bstore.list_sessions(colour="red")


def test_scores_labels_lists_and_stats_read_the_same_on_both_backends(bstore: Store) -> None:
    with bstore.transaction():
        for sid in ("a", "b", "c"):
            bstore.save_session(sample(sid))
        bstore.put_score("a", -1, "heuristic", 0.9, "gold", {"why": ["tests passed"]})
        bstore.put_score("a", -1, "heuristic", 0.8, "silver", {"why": []})  # replaces
        bstore.put_score("b", -1, "heuristic", 0.2, "failed", {})
    first = bstore.add_label("b", -1, label="good", tier="gold", author="ana")
    second = bstore.add_label("b", 0, label="bad", author="ana")
    assert second == first + 1
    assert bstore.add_to_curation_list("picks", ["a", "b"]) == 2
    assert bstore.add_to_curation_list("picks", ["b", "c"]) == 1
    assert bstore.remove_from_curation_list("picks", ["a", "zzz"]) == 1
    assert bstore.curation_list_session_ids("picks") == ["b", "c"]
    assert [(r["id"], r["tier"], r["score"]) for r in bstore.list_sessions(sort="tier")] == [
        ("b", "gold", 0.2), ("a", "silver", 0.8), ("c", None, None)]
    assert bstore.scores("a")[0]["metrics"] == {"why": []}
    stats = bstore.stats()
    assert stats == {**stats, "sessions": 3, "turns": 3, "steps": 9, "tool_calls": 3, "input_tokens": 30,
                     "by_tier": {"gold": 1, "silver": 1, "unscored": 1}, "top_tools": {"Bash": 3}}
    assert all(type(stats[k]) is int for k in ("sessions", "turns", "steps", "tool_calls", "input_tokens"))
    assert bstore.unscored_session_ids() == ["c"]
    bstore.create_eval("ev-1", model="m", adapter_run_id=None, suite="builtin", k=1, config={})
    assert bstore.latest_eval(model="m", adapter_run_id=None, suite="builtin", k=1)["id"] == "ev-1"


def test_a_failed_transaction_leaves_nothing_behind(bstore: Store) -> None:
    with pytest.raises(RuntimeError), bstore.transaction():
        bstore.save_session(sample())
        raise RuntimeError("killed half way")
    assert bstore.count_sessions() == 0


def test_concurrent_writers_wait_for_each_other(store_location: str) -> None:
    Store(store_location).close()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Store(store_location) as store:
                for i in range(20):
                    with store.transaction():
                        store.save_session(sample(f"w{n}-{i}"))
                        store.save_session(sample("shared", output=f"from {n}"))  # all fight over one id
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Store(store_location) as store:
        assert store.count_sessions() == 81
        assert store.db.execute("SELECT COUNT(*) FROM steps WHERE session_id = 'shared'").fetchone()[0] == 3


def test_zero_byte_and_damaged_files_are_named_not_taken_as_new(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(BashgymError, match="empty file \\(0 bytes\\)"):
        Store(empty)
    assert empty.stat().st_size == 0  # nothing written into it
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BashgymError, match="not a readable bashgym store"):
        Store(junk)


def damage_middle(path: Path) -> None:
    """Overwrite the middle third of a store file: its header still reads, its pages do not."""
    data = bytearray(path.read_bytes())
    n = len(data)
    data[n // 3: 2 * n // 3] = b"\xff" * (2 * n // 3 - n // 3)
    path.write_bytes(bytes(data))


def test_corrupt_pages_mid_file_pass_the_open_check_and_fail_later(tmp_path: Path) -> None:
    """What the CLI turns into a message naming the store (tests/test_store_cli.py): a damaged page is
    only found when a query reads it, as sqlite3.DatabaseError."""
    path = tmp_path / "db"
    with Store(path) as store, store.transaction():
        for i in range(300):
            store.save_session(sample(f"s{i}", output=os.urandom(1500).hex()))
    damage_middle(path)
    with pytest.raises(sqlite3.DatabaseError), Store(path) as store:
        store.stats()
