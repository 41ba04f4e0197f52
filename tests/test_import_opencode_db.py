"""`bashgym import opencode` reading OpenCode's SQLite store (opencode.db, OpenCode 1.2.0+) through the real
store: same sessions as the JSON storage, incremental, corrupt rows reported by table and row id, and the
user's database left exactly as it was. OpenCode 2.x sessions (`session_v2` + `session_message`, also
migrated 1.x sessions and pre-rename beta databases) are imported field by field."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.errors import BashgymError
from bashgym.schema import Step, Turn, is_shell_call, shell_command
from bashgym.sources.importer import ImportSummary, import_paths
from bashgym.sources.opencode import OpenCodeSource
from bashgym.sources.opencode_db import session_bundles
from bashgym.store import Store
from importer_fixtures import OPENCODE_SESSION, T0, write_opencode
from opencode_db_fixtures import (
    CHILD,
    EMPTY,
    MAIN,
    NEXT,
    SCHEMA_V2,
    SCHEMAS,
    T2,
    V1_AFTER,
    insert_message,
    insert_part,
    main_rows,
    upsert_row,
    write_migrated_db,
    write_opencode2_db,
    write_opencode_db,
    write_prerename_db,
)

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


@pytest.mark.parametrize(("write", "sessions"), [(write_opencode_db, 1), (write_opencode2_db, 3)],
                         ids=["opencode1", "opencode2"])
def test_the_users_db_is_not_modified(store: Store, tmp_path: Path, write, sessions: int) -> None:
    db_path = write(tmp_path / "data" / "opencode.db")
    before = fingerprint(db_path)
    listing = sorted(p.name for p in db_path.parent.iterdir())
    import_from(store, tmp_path / "data")
    import_from(store, db_path)
    assert store.count_sessions() == sessions
    assert fingerprint(db_path) == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == listing  # no -wal/-shm/-journal left behind


def test_unreadable_db_file_is_an_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "opencode.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 80)
    result = runner.invoke(app, ["import", "opencode", str(bad)])
    assert isinstance(result.exception, BashgymError)  # main() prints it as one line, exit code 1
    assert str(bad) in str(result.exception) and "not a database" in str(result.exception)


# ------------------------------------------------------------------------------------------ OpenCode 2.x


def step_by_call(turn: Turn, call_id: str) -> Step:
    return next(s for s in turn.steps if s.call_id == call_id)


def test_opencode2_session_imports_prompts_replies_tools_and_usage(store: Store, tmp_path: Path) -> None:
    db_path = write_opencode2_db(tmp_path / "opencode.db")
    summary = import_from(store, db_path)
    assert summary.sessions == 3 and summary.skipped_lines == 0 and summary.errors == []
    session = store.get_session(MAIN)
    assert [t.prompt for t in session.turns] == ["Run the parser tests and tell me whether they pass.",
                                                 "Fix the check so it exits 0."]
    first = session.turns[0]
    # rows are read in seq order (their ids sort otherwise, and they were inserted in reverse)
    assert [(s.kind, s.role, s.tool_name) for s in first.steps] == [
        ("message", "user", None), ("message", "assistant", None), ("tool_call", "assistant", "shell"),
        ("tool_call", "assistant", "shell"), ("tool_call", "assistant", "shell"), ("tool_call", "assistant", "edit"),
        ("tool_call", "assistant", "subagent"), ("message", "system", None), ("message", "assistant", None)]
    user, reply = first.steps[0], first.steps[1]
    assert user.text == first.prompt and user.timestamp == "2026-09-25T12:00:00.050Z"
    assert user.meta["files"] == [{"mime": "text/markdown", "filename": "NOTES.md",
                                   "url": "file:///home/dev/parser/NOTES.md"}]
    assert reply.thinking == "I will run pytest on tests/test_parser.py."
    assert reply.text == "Running the parser tests now." and reply.model == "z-ai/glm-5.3-flash"
    assert reply.timestamp == "2026-09-25T12:00:01.900Z"  # the reasoning's time.created
    pytest_call = step_by_call(first, "call_01a9f3c2b7e84d5fa6c1e0b2")
    assert is_shell_call(pytest_call) and shell_command(pytest_call) == "python -m pytest -q tests/test_parser.py"
    assert pytest_call.output == "3 passed in 0.41s\nCommand exited with code 0."
    assert pytest_call.exit_code == 0 and not pytest_call.is_error and not pytest_call.interrupted
    assert pytest_call.duration_ms == 400 and pytest_call.timestamp == "2026-09-25T12:00:03.150Z"  # time.ran
    assert first.steps[-1].text == "The tests pass (3 passed) but ./scripts/check.sh exits 7."
    assert (first.usage.input_tokens, first.usage.output_tokens, first.usage.cache_read_tokens) == (9680, 255, 18100)
    assert (session.usage.input_tokens, session.usage.output_tokens) == (13180, 485)
    assert session.models == ["z-ai/glm-5.3-flash", "claude-haiku-4-5"]
    assert session.meta["cost_usd"] == 0.0396
    assert import_from(store, db_path).files_read == 0


def test_opencode2_shell_exit_codes_tool_errors_and_interruptions(store: Store, tmp_path: Path) -> None:
    import_from(store, write_opencode2_db(tmp_path / "opencode.db"))
    first, second = store.get_session(MAIN).turns
    check = step_by_call(first, "call_02bfa1")
    assert shell_command(check) == "./scripts/check.sh" and check.exit_code == 7 and check.is_error
    assert check.output == "beta failure check\nCommand exited with code 7." and not check.interrupted
    timeout = step_by_call(first, "call_02timeout")
    assert timeout.exit_code is None and timeout.is_error and timeout.meta["timeout"] is True
    assert timeout.output == "Command exceeded timeout of 1000 ms\nCommand timed out before completion."
    edit = step_by_call(first, "call_03edit")
    assert edit.is_error and edit.exit_code is None and not edit.interrupted
    assert edit.output == "oldString not found in content" and edit.meta["error_type"] == "tool.execution"
    assert edit.input == {"path": "parser.py", "oldString": "x", "newString": "y"}
    stopped = step_by_call(second, "call_05int")
    assert stopped.interrupted and stopped.is_error and stopped.meta["error_type"] == "tool.interrupted"
    assert stopped.output == "partial output\nThe tool was interrupted."
    streaming = step_by_call(second, "call_06stream")
    assert streaming.output is None and streaming.meta["no_result"] and streaming.meta["status"] == "running"
    assert streaming.input == '{"path": "scripts/check.sh", "oldStr'  # the partial arguments as streamed
    assert second.meta["error"] == "aborted"  # the assistant row's error.type
    bang = second.steps[-1]
    assert bang.meta == {"user_shell": True, "status": "exited"} and bang.role == "user"
    assert shell_command(bang) == "make check" and bang.call_id == "sh_01userbang"
    assert bang.exit_code == 2 and bang.is_error and bang.output == "check failed\n" and bang.duration_ms == 250


def test_opencode2_notices_compaction_and_idle_outcomes_make_no_turns(store: Store, tmp_path: Path) -> None:
    import_from(store, write_opencode2_db(tmp_path / "opencode.db"))
    session = store.get_session(MAIN)
    assert len(session.turns) == 2  # notices, switches, compaction and the user's `!` command open none
    first, second = session.turns
    notice = next(s for s in first.steps if s.role == "system")
    assert notice.role == "system"
    assert notice.meta == {"notice": "synthetic", "description": "Background shell finished"}
    assert notice.text == '<shell id="sh_bg1" state="exited">\nlint ok\n</shell>'
    assert [(s.role, s.meta, s.text) for s in second.steps[1:4]] == [
        ("system", {"notice": "skill", "skill": "Debugging"}, "<skill>Reproduce first, then bisect.</skill>"),
        ("system", {"notice": "system"}, "The user switched the model to claude-haiku-4-5."),
        ("system", {"compact_summary": True}, "Summary: parser tests pass; ./scripts/check.sh exits 7.")]
    assert session.meta["compactions"] == 1
    assert (second.usage.input_tokens, second.usage.output_tokens) == (3500, 230)  # compaction + the step
    assert first.meta["outcome"] == "succeeded" and second.meta["outcome"] == "failed"
    assert first.ended_at == "2026-09-25T12:00:12.100Z"  # the idle marker
    assert len(second.steps) == 8  # prompt, 3 notices, reply, 2 calls, the `!` command: the model switch adds none


def test_opencode2_session_info_title_cwd_version_and_subagent_link(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "opencode"
    db_path = write_opencode2_db(data / "opencode.db")
    import_from(store, data)  # the data dir, as `bashgym import opencode` reads it
    session = store.get_session(MAIN)
    assert session.title == "Run the parser tests" and session.agent_version == "2.0.14"
    assert session.cwd == session.project == "/home/dev/parser" and session.parent_id is None
    assert session.source_path == f"{db_path.resolve()} [session_v2 {MAIN}]"
    assert session.started_at == "2026-09-25T12:00:00.000Z"
    assert session.ended_at == "2026-09-25T12:00:41.250Z"  # newest session_message row, not session_v2.time_updated
    spawn = step_by_call(session.turns[0], "call_04sub")
    assert spawn.meta["subagent_session_id"] == CHILD
    child = store.get_session(CHILD)
    assert child.parent_id == MAIN and child.title == "Find tests (@explore subagent)"
    assert child.turns[0].prompt == "Find the parser tests." and child.turns[0].meta["outcome"] == "succeeded"
    glob = child.turns[0].tool_calls[0]
    assert (glob.tool_name, glob.input) == ("glob", {"pattern": "tests/test_parser*.py"})
    assert glob.output == "tests/test_parser.py\n(1 match)"  # the text items, one per line; file items left out
    assert glob.exit_code is None and not glob.is_error and child.models == ["claude-haiku-4-5"]
    empty = store.get_session(EMPTY)  # no messages yet, title NULL
    assert empty.turns == [] and empty.title is None and empty.agent_version == "2.0.14"


def test_opencode2_rerun_adds_nothing_and_updated_or_new_rows_are_picked_up(store: Store, tmp_path: Path) -> None:
    db_path = write_opencode2_db(tmp_path / "opencode.db")
    import_from(store, db_path)
    again = import_from(store, db_path)
    assert again.files_read == 0 and again.sessions == 0 and store.count_sessions() == 3
    writer = sqlite3.connect(db_path)  # OpenCode still running: its WAL is open while bashgym reads
    writer.execute("PRAGMA journal_mode = WAL")
    mid, kind, seq, data = next(r for r in main_rows() if r[0] == "msg_0f3e65000001AsStEpInTeRr1")
    streamed = data["content"][2]
    streamed["state"] = {"status": "completed", "input": {"path": "scripts/check.sh", "oldString": "exit 7",
                                                          "newString": "exit 0"},
                         "content": [{"type": "text", "text": "Edit applied."}], "metadata": {"diff": "-7\n+0"}}
    streamed["time"] |= {"ran": T2 + 39200, "completed": T2 + 39300}
    upsert_row(writer, MAIN, mid, kind, seq, data)  # the projector updates the row in place
    upsert_row(writer, MAIN, "msg_0f3e68000001UsErPrOmPt03", "user", 40,
               {"time": {"created": T2 + 50000}, "text": "Run it again.", "files": []})
    writer.commit()
    try:
        grown = import_from(store, db_path)
    finally:
        writer.close()
    assert grown.files_read == 1 and grown.sessions == 1 and store.count_sessions() == 3
    turns = store.get_session(MAIN).turns
    edit = step_by_call(turns[1], "call_06stream")
    assert edit.output == "Edit applied." and edit.meta["diff"] == "-7\n+0" and "no_result" not in edit.meta
    assert [t.prompt for t in turns] == ["Run the parser tests and tell me whether they pass.",
                                         "Fix the check so it exits 0.", "Run it again."]
    assert import_from(store, db_path).files_read == 0


def test_opencode2_corrupt_row_is_reported_by_table_and_row_and_the_rest_imported(store: Store,
                                                                                  tmp_path: Path) -> None:
    db_path = write_opencode2_db(tmp_path / "opencode.db")
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE session_message SET data = ? WHERE id = 'msg_0f3e5b000001AaStEpTwOoOoO'",
                   ('{"time": {"created": ',))
        db.execute("UPDATE session_message SET data = '[1]' WHERE id = 'msg_0f3e5a000001SyNtHeTiC0001'")
    db.close()
    summary = import_from(store, db_path)
    errors = [e for _path, _line, e in summary.errors]
    assert summary.skipped_lines == 2 and summary.sessions == 3
    assert any(f"{db_path.resolve()} [session_message msg_0f3e5b000001AaStEpTwOoOoO]: invalid JSON in column data"
               in e for e in errors)
    assert any("[session_message msg_0f3e5a000001SyNtHeTiC0001]: column data is a JSON list" in e for e in errors)
    first = store.get_session(MAIN).turns[0]
    assert [c.call_id for c in first.tool_calls] == ["call_01a9f3c2b7e84d5fa6c1e0b2", "call_04sub"]
    assert not any(s.meta.get("notice") for s in first.steps)


def test_migrated_session_is_read_from_session_message_and_newer_1x_messages_reported(store: Store,
                                                                                        tmp_path: Path) -> None:
    db_path = write_migrated_db(tmp_path / "opencode.db")
    summary = import_from(store, db_path)
    assert summary.sessions == 2 and store.count_sessions() == 2
    session = store.get_session(OPENCODE_SESSION)
    assert session.source_path == f"{db_path.resolve()} [session_v2 {OPENCODE_SESSION}]"
    assert [t.prompt for t in session.turns] == ["Build the project and tell me if it passes"]  # not "Now fix it"
    make, edit, ls = session.turns[0].tool_calls
    assert (shell_command(make), make.exit_code, make.is_error) == ("make", 2, True)
    assert make.output == "cc -o app main.c\nmain.c:3: error: expected ';'"
    assert edit.is_error and edit.output == "oldString not found in content" and not edit.interrupted
    assert (shell_command(ls), ls.exit_code, ls.output) == ("ls", 0, "main.c\nMakefile")
    assert session.turns[0].steps[1].thinking == "Try make first."
    assert session.agent_version == "1.0.150" and session.usage.input_tokens == 1500
    errors = [e for _path, _line, e in summary.errors]
    assert len(errors) == 1 and "2 messages of this session are only in OpenCode 1.x's message table" in errors[0]
    assert f"{db_path.resolve()} [message (2 newer than session_message)]" in errors[0]
    assert sorted(sid for sid, _ in session_bundles(db_path)) == sorted([OPENCODE_SESSION, V1_AFTER])  # once each
    after = store.get_session(V1_AFTER)  # created by 1.x after the migration: only in the 1.x tables
    assert after.source_path == f"{db_path.resolve()} [session {V1_AFTER}]"
    assert after.turns[0].prompt == "Still on 1.x" and after.agent_version == "1.18.40"


@pytest.mark.parametrize("seq", [True, False], ids=["seq", "no-seq"])
def test_prerename_beta_db_reads_session_message_of_session_rows(store: Store, tmp_path: Path, seq: bool) -> None:
    db_path = write_prerename_db(tmp_path / "opencode-next.db", seq=seq)
    summary = import_from(store, db_path)
    assert summary.sessions == 2 and summary.errors == []
    beta = store.get_session(NEXT)
    assert beta.source_path == f"{db_path.resolve()} [session {NEXT}]"
    assert beta.agent_version == "0.0.0-beta-19381" and beta.title == "Beta check"
    (turn,) = beta.turns
    assert turn.prompt == "Run the beta check."
    assert [s.kind for s in turn.steps] == ["message", "tool_call", "message"]  # seq, or time_created, order
    call = turn.tool_calls[0]
    assert shell_command(call) == "./beta-check.sh" and call.exit_code == 7 and call.is_error
    assert turn.steps[-1].text == "The beta check fails with exit 7."
    v1 = store.get_session(OPENCODE_SESSION)  # the 1.x session beside it, from message/part
    assert v1.source_path == f"{db_path.resolve()} [session {OPENCODE_SESSION}]"
    assert [c.call_id for c in v1.turns[0].tool_calls] == ["toolu_01", "toolu_02", "toolu_03"]


def test_session_message_rows_without_a_session_row_are_reported(store: Store, tmp_path: Path) -> None:
    db_path = tmp_path / "opencode.db"
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA_V2)  # foreign keys off, as a crashed or hand-edited database can end up
    db.execute("INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
               "VALUES ('msg_orphan', 'ses_gone', 'user', 1, ?, ?, ?)", (T2, T2, json.dumps({"text": "hi"})))
    db.commit()
    db.close()
    summary = import_from(store, db_path)
    assert store.count_sessions() == 0
    assert any(f"{db_path.resolve()} [session_message (1 sessions)]" in e and "no row in table session_v2" in e
               for _p, _n, e in summary.errors)
