"""`bashgym import opencode` reading OpenCode's SQLite store (opencode.db, OpenCode 1.2.0+) through the real
store: same sessions as the JSON storage, incremental, corrupt rows reported by table and row id, and the
user's database left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.errors import BashgymError
from bashgym.schema import shell_command
from bashgym.sources.importer import ImportSummary, import_paths
from bashgym.sources.opencode import OpenCodeSource
from bashgym.store import Store
from importer_fixtures import OPENCODE_SESSION, T0, write_opencode
from opencode_db_fixtures import SCHEMAS, insert_message, insert_part, write_opencode_db

runner = CliRunner()


@pytest.fixture(autouse=True)
def default_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("OPENCODE_DB", raising=False)


def import_from(store: Store, root: Path) -> ImportSummary:
    source = OpenCodeSource()
    return import_paths(store, source, source.discover(root))


def fingerprint(path: Path) -> tuple[float, int, str]:
    return path.stat().st_mtime, path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()


def comparable(store: Store) -> dict:
    data = store.get_session(OPENCODE_SESSION).to_dict()
    data.pop("source_path")
    return data


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_db_import_gives_the_same_session_as_json_storage(store: Store, tmp_path: Path, schema: str) -> None:
    write_opencode(tmp_path / "json" / "storage")
    from_json = import_from(store, tmp_path / "json" / "storage")
    expected = comparable(store)
    db_path = write_opencode_db(tmp_path / "db" / "opencode.db", schema)
    other = Store.open(tmp_path / "other-home")
    try:
        from_db = import_from(other, db_path)
        got = comparable(other)
        source_path = other.get_session(OPENCODE_SESSION).source_path
    finally:
        other.close()
    assert from_db.sessions == from_json.sessions == 1 and from_db.skipped_lines == 0
    assert from_db.steps == from_json.steps == 6
    assert source_path == f"{db_path.resolve()} [session {OPENCODE_SESSION}]"
    got_steps = [st for t in got.pop("turns") for st in t.pop("steps")]
    want_steps = [st for t in expected.pop("turns") for st in t.pop("steps")]
    assert len(got_steps) == len(want_steps)
    for got_step, want_step in zip(got_steps, want_steps, strict=True):
        for field in want_step:
            assert got_step[field] == want_step[field], field
    assert got == expected  # session fields, turns, usage, meta


def test_default_data_dir_finds_the_db_and_prefers_it_to_left_over_json(isolated_home: Path) -> None:
    data = isolated_home / ".local" / "share" / "opencode"
    write_opencode(data / "storage")  # OpenCode leaves the migrated JSON files behind
    write_opencode_db(data / "opencode.db")
    result = runner.invoke(app, ["import", "opencode", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["root"] == str(data) and report["sessions"] == 1 and report["files"] == 1
    with Store.open() as s:
        session = s.get_session(OPENCODE_SESSION)
        assert session.source_path.startswith(str((data / "opencode.db").resolve()))
        make = session.turns[0].tool_calls[0]
        assert shell_command(make) == "make" and make.exit_code == 2


def test_rerun_adds_nothing_and_a_new_part_is_picked_up(store: Store, tmp_path: Path) -> None:
    db_path = write_opencode_db(tmp_path / "opencode.db")
    first = import_from(store, db_path)
    assert first.files_read == 1
    again = import_from(store, db_path)
    assert again.files_read == 0 and again.sessions == 0 and store.count_sessions() == 1
    writer = sqlite3.connect(db_path)  # OpenCode still running: its WAL is open while bashgym reads
    writer.execute("PRAGMA journal_mode = WAL")
    insert_part(writer, {"id": "prt_018", "sessionID": OPENCODE_SESSION, "messageID": "msg_002", "type": "tool",
                         "callID": "toolu_04", "tool": "bash",
                         "state": {"status": "completed", "input": {"command": "make test"}, "output": "ok",
                                   "metadata": {"exit": 0}, "time": {"start": T0 + 9500, "end": T0 + 9700}}})
    insert_message(writer, {"id": "msg_003", "sessionID": OPENCODE_SESSION, "role": "user",
                            "time": {"created": T0 + 20000}, "agent": "build",
                            "model": {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"}},
                   [{"id": "prt_100", "sessionID": OPENCODE_SESSION, "messageID": "msg_003", "type": "text",
                     "text": "Now fix it"}])
    writer.commit()
    try:
        grown = import_from(store, db_path)
    finally:
        writer.close()
    assert grown.files_read == 1 and store.count_sessions() == 1
    turns = store.get_session(OPENCODE_SESSION).turns
    assert [shell_command(c) for c in turns[0].tool_calls] == ["make", None, "ls", "make test"]
    assert turns[-1].prompt == "Now fix it"
    assert import_from(store, db_path).files_read == 0


def test_corrupt_data_json_is_reported_by_table_and_row_and_the_rest_imported(store: Store, tmp_path: Path) -> None:
    db_path = write_opencode_db(tmp_path / "opencode.db")
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE part SET data = ? WHERE id = 'prt_015'", ('{"type": "tool", "callID": ',))
        db.execute("UPDATE message SET data = '[]' WHERE id = 'msg_001'")
    db.close()
    summary = import_from(store, db_path)
    errors = [e for _path, _line, e in summary.errors]
    assert summary.skipped_lines == 3 and summary.sessions == 1
    assert any(f"{db_path.resolve()} [part prt_015]: invalid JSON in column data" in e for e in errors)
    assert any("[message msg_001]: column data is a JSON list" in e for e in errors)
    assert any("[part prt_001]" in e and "unknown message" in e for e in errors)  # its message was unreadable
    calls = store.get_session(OPENCODE_SESSION).turns[0].tool_calls
    assert [c.call_id for c in calls] == ["toolu_01", "toolu_02"]


def test_the_users_db_is_not_modified(store: Store, tmp_path: Path) -> None:
    db_path = write_opencode_db(tmp_path / "data" / "opencode.db")
    before = fingerprint(db_path)
    listing = sorted(p.name for p in db_path.parent.iterdir())
    import_from(store, tmp_path / "data")
    import_from(store, db_path)
    assert fingerprint(db_path) == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == listing  # no -wal/-shm/-journal left behind


def test_unreadable_db_file_is_an_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "opencode.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 80)
    result = runner.invoke(app, ["import", "opencode", str(bad)])
    assert isinstance(result.exception, BashgymError)  # main() prints it as one line, exit code 1
    assert str(bad) in str(result.exception) and "not a database" in str(result.exception)


def test_sessions_only_in_opencode2_session_message_are_reported(store: Store, tmp_path: Path) -> None:
    db_path = write_opencode_db(tmp_path / "opencode.db")
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO session (id, project_id, slug, directory, title, version, time_created, time_updated) "
                   "VALUES ('ses_v2only', 'prj_abc123', 'calm-owl', '/home/dev/app', 't', '2.0.3', ?, ?)", (T0, T0))
        db.execute("INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
                   "VALUES ('msg_v2', 'ses_v2only', 'user', 1, ?, ?, ?)", (T0, T0, json.dumps({"text": "hi"})))
    db.close()
    summary = import_from(store, db_path)
    assert store.count_sessions() == 2  # the v1 session, and ses_v2only's info row (no turns)
    assert any("[session_message (1 sessions)]" in e and "messages were not imported" in e for _p, _n, e in summary.errors)
    assert import_from(store, db_path).files_read == 0
