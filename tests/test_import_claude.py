"""`bashgym import claude` on real-CLI transcripts and hand-made edge cases, through the real store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.sources.claude_code import ClaudeCodeSource
from bashgym.sources.importer import import_paths
from bashgym.store import Store

runner = CliRunner()
SOURCE = ClaudeCodeSource()


def import_dir(store: Store, root: Path):
    return import_paths(store, SOURCE, SOURCE.discover(root))


def session_by_project(store: Store, text: str):
    rows = store.list_sessions(project=text, parent="")
    assert len(rows) == 1, rows
    return store.get_session(rows[0]["id"])


def test_real_cli_transcripts_import_with_full_fidelity(store: Store, fixtures_dir: Path) -> None:
    summary = import_dir(store, fixtures_dir / "claude")
    assert summary.files == 6 and summary.skipped_lines == 0 and not summary.failed_files
    assert store.count_sessions() == 6  # five scenarios + one subagent session

    s = session_by_project(store, "list_and_edit")
    assert s.agent_version == "2.1.197" and s.models == ["claude-sonnet-4-5-20250929"]
    turn = s.turns[0]
    assert turn.prompt.startswith("[S1] Replace the TODO")
    assistant = [st for st in turn.steps if st.kind == "message" and st.role == "assistant"]
    assert assistant[0].thinking == "I should look at the files first." and assistant[0].text == "Let me look around."
    calls = turn.tool_calls
    assert [c.tool_name for c in calls] == ["Bash", "Read", "Edit", "Bash"]
    assert calls[0].input["command"] == "ls -la && wc -l notes.txt" and calls[0].exit_code == 0
    assert "notes.txt" in calls[0].output
    assert calls[2].input["new_string"] == "Hello from bashgym" and calls[2].meta["structured_patch"]
    assert calls[3].output == "line one\nHello from bashgym"
    assert all(c.call_id and c.call_id.startswith("toolu_") for c in calls)
    assert s.usage.input_tokens > 0 and s.usage.output_tokens > 0

    fix = session_by_project(store, "fix_failing_test")
    bash = [c for c in fix.turns[0].tool_calls if c.tool_name == "Bash"]
    assert bash[0].is_error and bash[0].exit_code == 1 and "FAILED" in bash[0].output
    assert not bash[1].is_error and bash[1].exit_code == 0 and "1 passed" in bash[1].output

    correction = session_by_project(store, "correction")
    assert len(correction.turns) == 2  # --resume appended a second user turn to the same file
    assert correction.turns[1].prompt.startswith("No, that's wrong")


def test_subagent_session_is_linked_to_its_parent(store: Store, fixtures_dir: Path) -> None:
    import_dir(store, fixtures_dir / "claude")
    parent = session_by_project(store, "subagent")
    task = parent.turns[0].tool_calls[0]
    assert task.tool_name == "Task"
    child_id = task.meta["subagent_session_id"]
    assert store.child_session_ids(parent.id) == [child_id]
    child = store.get_session(child_id)
    assert child.parent_id == parent.id and child.meta["agentType"] == "general-purpose"
    assert child.turns[0].prompt.startswith("[S4-SUB]")
    assert child.turns[0].tool_calls[0].input["command"] == "ls | wc -l"


def test_rerun_import_adds_nothing(store: Store, fixtures_dir: Path) -> None:
    import_dir(store, fixtures_dir / "claude")
    before = store.stats()
    again = import_dir(store, fixtures_dir / "claude")
    assert again.files_read == 0 and again.sessions == 0
    assert store.stats() == before


def test_grown_file_is_read_from_where_it_stopped(store: Store, fixtures_dir: Path, tmp_path: Path) -> None:
    src = next(p for p in (fixtures_dir / "claude").rglob("*.jsonl") if "correction" in str(p))
    lines = src.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b"No, that's wrong" in line)
    path = tmp_path / "growing.jsonl"
    path.write_bytes(b"".join(lines[:cut]))
    first = import_paths(store, SOURCE, [path])
    sid = store.list_sessions()[0]["id"]
    assert len(store.get_session(sid).turns) == 1
    with open(path, "ab") as fh:
        fh.write(b"".join(lines[cut:]))
    second = import_paths(store, SOURCE, [path])
    assert second.bytes_read == sum(len(x) for x in lines[cut:])  # only the new bytes were read
    assert second.new_lines == len(lines) - cut and first.new_lines == cut
    session = store.get_session(sid)
    assert len(session.turns) == 2 and session.turns[1].tool_calls[0].input["content"] == "Hello, world!\n"
    assert store.count_sessions() == 1


def test_corrupt_line_is_counted_reported_and_skipped(store: Store, fixtures_dir: Path) -> None:
    path = fixtures_dir / "claude_edge" / "corrupt_line.jsonl"
    summary = import_paths(store, SOURCE, [path])
    assert summary.skipped_lines == 1
    (err_path, line, message) = summary.errors[0]
    assert err_path.endswith("corrupt_line.jsonl") and line == 6 and "invalid JSON" in message
    session = store.get_session("e0000000-0000-4000-8000-000000000001")
    assert [c.tool_name for c in session.turns[0].tool_calls] == ["Bash", "Read", "Edit", "Bash"]
    assert store.import_errors()[0]["line_no"] == 6


def test_truncated_last_line_waits_for_the_rest(store: Store, fixtures_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    shutil.copy(fixtures_dir / "claude_edge" / "truncated_last_line.jsonl", path)
    summary = import_paths(store, SOURCE, [path])
    assert summary.pending_lines == 1 and "truncated last line" in summary.errors[0][2]
    session = store.get_session("e0000000-0000-4000-8000-000000000002")
    assert session.turns[0].steps[-1].text != "Done: notes.txt now greets from bashgym."
    # The writer finishes the line: the next import completes the session.
    partial = path.read_bytes().rsplit(b"\n", 1)[1]
    rest = json.dumps({"type": "assistant"})  # placeholder, replaced below
    lines = [json.loads(x) for x in path.read_text().splitlines()[:-1]]
    done = dict(lines[-1], type="assistant", uuid="done-1", message={
        "id": "msg_done", "role": "assistant", "content": [{"type": "text", "text": "Done: notes.txt now greets from bashgym."}]})
    rest = json.dumps(done)
    with open(path, "wb") as fh:  # rewrite the torn tail as the writer would have finished it
        fh.write(b"\n".join(json.dumps(x).encode() for x in lines) + b"\n")
    assert partial  # there was a torn line
    with open(path, "ab") as fh:
        fh.write(rest.encode() + b"\n")
    import_paths(store, SOURCE, [path])
    session = store.get_session("e0000000-0000-4000-8000-000000000002")
    assert session.turns[0].steps[-1].text == "Done: notes.txt now greets from bashgym."


def test_huge_output_unicode_binary_and_missing_fields(store: Store, fixtures_dir: Path) -> None:
    path = fixtures_dir / "claude_edge" / "huge_unicode_binary_missing.jsonl"
    summary = import_paths(store, SOURCE, [path])
    assert summary.skipped_lines == 1 and "without a message" in summary.errors[0][2]  # {"type": "user"}
    s = store.get_session("e0000000-0000-4000-8000-000000000003")
    assert s.title == "Edge cases for the importer" and s.cwd == "/home/dev/projekt-ü"
    turn = s.turns[0]
    assert turn.prompt == "Zeig mir die Datei 📄 — naïve café ✓ 日本語"
    huge, binary, interrupted = turn.tool_calls
    expected = "".join(f"line {i}: {'x' * 90}\n" for i in range(6000))
    assert huge.output == expected and huge.output.endswith("x" * 90 + "\n")  # nothing truncated
    assert "\x1b[31mred" in binary.output and "\x00" in binary.output
    assert interrupted.interrupted and interrupted.is_error
    assert turn.steps[1].meta["redacted_thinking"] == 1
    assert s.usage.input_tokens == 10  # split message counted once
    image_turn = s.turns[1]
    ref = image_turn.steps[0].meta["images"][0]
    assert ref["media_type"] == "image/png" and len(ref["sha256"]) == 64 and "data" not in ref
    assert any(st.meta.get("compact_boundary") for st in image_turn.steps)
    assert any(st.meta.get("compact_summary") for st in image_turn.steps)
    assert image_turn.tool_calls[-1].output is None and image_turn.tool_calls[-1].meta["no_result"]


def test_lines_skipped_unparsed_change_nothing_that_is_imported(fixtures_dir: Path) -> None:
    """The importer hands the parser only lines that may carry conversation; parsing every line instead
    gives the very same sessions, and each skipped line is one of the kinds the parser ignores."""
    from bashgym.sources.claude_code import CONVERSATION_TYPES, parse_transcript, skip_line

    skipped_types: set[str] = set()
    for path in sorted((fixtures_dir / "claude").rglob("*.jsonl")):
        lines = path.read_bytes().splitlines()
        kept = []
        for no, line in enumerate(lines, 1):
            if skip_line(line, 0, len(line)):
                obj = json.loads(line)
                assert obj["type"] not in CONVERSATION_TYPES or "attachment" in obj, (path.name, no)
                skipped_types.add(obj["type"])
            else:
                kept.append((no, line))
        everything = parse_transcript(str(path), enumerate(lines, 1))
        assert parse_transcript(str(path), kept).sessions == everything.sessions
    assert {"queue-operation", "attachment"} <= skipped_types  # the real CLI writes both


def test_raw_lines_are_kept_and_rederive_rebuilds_the_same_sessions(store: Store, fixtures_dir: Path) -> None:
    import_dir(store, fixtures_dir / "claude")
    before = {sid: store.get_session(sid).to_dict() for sid in store.iter_session_ids()}
    path = next(iter(store.source_files())).path
    assert sum(1 for _ in store.raw_lines(path)) == len(Path(path).read_bytes().splitlines())
    result = runner.invoke(app, ["import", "claude", "--rederive"])
    assert result.exit_code == 0, result.output
    after = {sid: store.get_session(sid).to_dict() for sid in store.iter_session_ids()}
    assert after == before


def test_cli_import_prints_a_summary(fixtures_dir: Path) -> None:
    result = runner.invoke(app, ["import", "claude", str(fixtures_dir / "claude_edge"), "--json"])
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["files"] == 3 and data["skipped_lines"] == 2 and data["pending_lines"] == 1
    assert {e["line"] for e in data["errors"]} >= {6}


def test_cli_import_workers_flag_prints_what_one_process_does(tmp_path: Path, fixtures_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(fixtures_dir / "claude", corpus / "claude")
    shutil.copytree(fixtures_dir / "claude_edge", corpus / "edge")
    outputs = []
    for workers in ("1", "2"):
        result = runner.invoke(app, ["import", "claude", str(corpus), "--json", "--workers", workers,
                                     "--home", str(tmp_path / f"home{workers}")])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout[result.stdout.index("{"):])
        outputs.append({**data, "errors": sorted(map(str, data["errors"]))})
    assert outputs[0] == outputs[1] and outputs[0]["sessions"] > 3 and outputs[0]["skipped_lines"] == 2
    bad = runner.invoke(app, ["import", "claude", str(corpus), "--workers", "0", "--home", str(tmp_path / "h0")])
    assert bad.exit_code != 0 and "--workers" in bad.output


def _make_corpus(root: Path, fixtures: Path, copies: int) -> None:
    sources = [p for p in (fixtures / "claude").rglob("*.jsonl") if "subagents" not in str(p)]
    for i in range(copies):
        src = sources[i % len(sources)]
        sid = f"{i:08d}-0000-4000-8000-{i:012d}"
        lines = []
        for line in src.read_text().splitlines():
            obj = json.loads(line)
            if "sessionId" in obj:
                obj["sessionId"] = sid
            lines.append(json.dumps(obj))
        d = root / f"p{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{sid}.jsonl").write_text("\n".join(lines * 3) + "\n")


@pytest.mark.slow
def test_kill_9_mid_import_then_rerun_equals_a_clean_import(tmp_path: Path, fixtures_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    _make_corpus(corpus, fixtures_dir, 400)
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-m", "bashgym.cli", "import", "claude", str(corpus), "--json"]
    proc = subprocess.Popen([*cmd, "--home", str(killed_home)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = killed_home / "bashgym.db"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with Store(db, readonly=True) as s:
                    done = s.count_sessions()
            except Exception:  # noqa: BLE001 - the db may be mid-creation
                done = 0
            if done >= 20:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < done < 400, f"the kill should land mid-import (saw {done} sessions)"
    subprocess.run([*cmd, "--home", str(killed_home)], check=True, capture_output=True)
    subprocess.run([*cmd, "--home", str(clean_home)], check=True, capture_output=True)
    with Store(killed_home / "bashgym.db") as a, Store(clean_home / "bashgym.db") as b:
        sa, sb = a.stats(), b.stats()
        assert sa == sb and sa["sessions"] == 400
        for sid in list(b.iter_session_ids())[:25]:
            assert a.get_session(sid).to_dict() == b.get_session(sid).to_dict()
        assert len(a.source_files()) == len(b.source_files()) == 400


def test_a_corrupt_store_file_is_a_one_line_error_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "bg"
    home.mkdir()
    (home / "bashgym.db").write_bytes(b"this is not an sqlite file, it was overwritten by something" * 100)
    result = subprocess.run([sys.executable, "-m", "bashgym.cli", "sessions", "list", "--home", str(home)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{home / 'bashgym.db'} is not a readable bashgym store" in result.stderr
    assert "move it aside" in result.stderr


@pytest.mark.parametrize("source", ["claude", "codex", "gemini", "opencode"])
def test_import_of_a_path_that_does_not_exist_is_an_error_not_an_empty_import(tmp_path: Path, source: str) -> None:
    missing = tmp_path / "no-such-dir"
    result = runner.invoke(app, ["import", source, str(missing)])
    assert result.exit_code != 0
    assert f"no such file or directory: {missing}" in str(result.exception)


def test_import_file_with_a_mistyped_format_suggests_the_closest(tmp_path: Path) -> None:
    data = tmp_path / "traces.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    result = runner.invoke(app, ["import", "file", str(data), "--format", "sharegp"])
    assert result.exit_code != 0
    assert "unknown format 'sharegp' (did you mean \"sharegpt\"?)" in str(result.exception)


def test_bare_import_lists_the_sources_and_which_are_found(isolated_home: Path) -> None:
    (isolated_home / ".codex" / "sessions").mkdir(parents=True)
    result = runner.invoke(app, ["import"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert {"claude", "codex", "gemini", "opencode", "file"} <= set(rows)
    assert "yes" in rows["codex"] and "yes" not in rows["claude"]


class ExplodingOnOneFile(ClaudeCodeSource):
    """A third-party source built on the public SourceFormat protocol, whose parser has a bug that one
    file triggers: the kind of failure the importer must contain."""

    def parse(self, path, lines):
        if "boom" in path:
            raise RuntimeError("parser bug on this file")
        return super().parse(path, lines)


def test_a_file_that_breaks_its_batch_is_left_out_alone(store: Store, fixtures_dir: Path, tmp_path: Path) -> None:
    """Files share a transaction; when one raises, the others of its batch still land, in order."""
    real = sorted(p for p in (fixtures_dir / "claude").rglob("*.jsonl") if "subagents" not in str(p))
    files = []
    for i, src in enumerate(real):
        dest = tmp_path / ("boom" if i == 2 else f"ok{i}") / src.name
        dest.parent.mkdir()
        shutil.copy(src, dest)
        files.append(dest)
    seen: list[str] = []
    summary = import_paths(store, ExplodingOnOneFile(), files, on_file=lambda p, r: seen.append(p.parent.name))
    assert seen == [f.parent.name for f in files]  # every file reported once, in order
    assert [key for key, _ in summary.failed_files] == [str(files[2].resolve())]
    assert "RuntimeError: parser bug on this file" in summary.failed_files[0][1]
    assert summary.sessions == len(files) - 1 and store.count_sessions(parent="") == len(files) - 1
    assert {s.path for s in store.source_files()} == {str(f.resolve()) for i, f in enumerate(files) if i != 2}
    again = import_paths(store, SOURCE, files)  # the fixed parser picks up only the file that failed
    assert again.files_read == 1 and not again.failed_files and store.count_sessions(parent="") == len(files)



@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_gone_before_its_turn_is_reported_once_and_the_rest_import(
        store: Store, fixtures_dir: Path, tmp_path: Path, workers: int) -> None:
    """A file listed, then deleted before the import reached it (a session cleaned up meanwhile): it is a
    failed file that says why, reported once through on_file, and every other file still lands."""
    real = sorted(p for p in (fixtures_dir / "claude").rglob("*.jsonl") if "subagents" not in str(p))
    files = []
    for i, src in enumerate(real):
        dest = tmp_path / f"f{i}" / src.name
        dest.parent.mkdir()
        shutil.copy(src, dest)
        files.append(dest)
    gone = files[1]
    gone.unlink()
    seen: list[Path] = []
    summary = import_paths(store, SOURCE, files, on_file=lambda p, r: seen.append(p), workers=workers)
    assert sorted(seen) == sorted(files)  # every file reported once, the gone one included
    assert len(summary.failed_files) == 1 and summary.failed_files[0][0] == str(gone.absolute())
    assert summary.failed_files[0][1].startswith("cannot stat: ") and "No such file" in summary.failed_files[0][1]
    assert summary.files == len(files) and store.count_sessions(parent="") == len(files) - 1

def _stored(store: Store) -> dict[str, object]:
    """Everything an import leaves: sessions whole, raw lines, and each file's state (times aside)."""
    files = sorted((s.path, s.size, s.byte_offset, s.line_count, s.head_hash, tuple(s.session_ids),
                     s.skipped_lines) for s in store.source_files())
    return {"stats": store.stats(), "files": files,
            "raw": {path: list(store.raw_lines(path)) for path, *_ in files},
            "sessions": {sid: store.get_session(sid).to_dict() for sid in store.iter_session_ids()}}


def _summary(summary) -> dict[str, object]:  # noqa: ANN001 - per-file results arrive in any order
    data = summary.to_dict()
    return {**data, "errors": sorted(map(str, data["errors"])), "failed_files": sorted(map(str, data["failed_files"]))}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_import_processes_store_what_one_does(tmp_path: Path, fixtures_dir: Path, backend: str,
                                                  request: pytest.FixtureRequest) -> None:
    """`--workers 2`: two processes each import a share (reading and parsing a batch before taking the write
    lock); the store, the summary and the progress calls are those of one process, corrupt and truncated
    lines included, and a rerun reads nothing; on SQLite and on a team store."""
    corpus = tmp_path / "corpus"
    _make_corpus(corpus, fixtures_dir, 60)
    shutil.copytree(fixtures_dir / "claude_edge", corpus / "edge")
    files = SOURCE.discover(corpus)
    results = {}
    for workers in (1, 2):
        seen: list[Path] = []
        location = (str(tmp_path / f"w{workers}.db") if backend == "sqlite"
                    else request.getfixturevalue("pg_server").create_database())
        with Store(location) as store:
            summary = import_paths(store, SOURCE, files, on_file=lambda p, _r, seen=seen: seen.append(p),
                                   workers=workers)
            results[workers] = (_summary(summary), _stored(store), sorted(seen))
            assert sorted(seen) == sorted(files)
            if workers == 2:
                again = import_paths(store, SOURCE, files, workers=2)
                assert again.files == len(files) and again.files_read == 0 and again.sessions == 0
    assert results[2] == results[1]
    assert results[1][0]["skipped_lines"] == 2 and results[1][0]["pending_lines"] == 1
    assert results[1][1]["stats"]["sessions"] >= 60


class KilledOnOneFile(ClaudeCodeSource):
    """A parser that takes its process down (SIGKILL) on one file: an import process dying mid-way."""

    def parse(self, path, lines):
        if "die" in path:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().parse(path, lines)


def test_an_import_process_that_dies_loses_nothing(tmp_path: Path, fixtures_dir: Path) -> None:
    """One of two import processes is killed: the files it had not reported are listed as failed with why,
    the other share lands whole, and the next import brings the store to what a clean one makes."""
    corpus = tmp_path / "corpus"
    _make_corpus(corpus, fixtures_dir, 30)
    files = SOURCE.discover(corpus)
    dying = files[-1].parent / "die" / files[-1].name  # the last file: in the second process's share
    dying.parent.mkdir()
    files[-1].rename(dying)
    files = [*files[:-1], dying]
    with Store(tmp_path / "killed.db") as store:
        summary = import_paths(store, KilledOnOneFile(), files, workers=2)
        assert summary.files == len(files) and summary.failed_files
        assert all("the import process died (exit code -9)" in why for _, why in summary.failed_files)
        assert str(dying.absolute()) in {path for path, _ in summary.failed_files}
        assert 0 < store.count_sessions(parent="") < len(files)
        again = import_paths(store, SOURCE, files)
        assert not again.failed_files and 1 <= again.files_read <= len(summary.failed_files)
        killed = _stored(store)
    with Store(tmp_path / "clean.db") as store:
        import_paths(store, SOURCE, files)
        assert killed == _stored(store)

