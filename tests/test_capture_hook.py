"""The hook script, run for real: one JSON event in, one line appended, exit 0 whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bashgym.capture import events
from bashgym.capture.install import hook_script


def fire(payload: bytes, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    # stdin is a file, not a pipe fed by this process: the hook waits at most 0.6 s for EOF, and on a loaded
    # machine feeding 50 MB through a pipe can take longer than that (then the hook rightly gives up).
    with tempfile.TemporaryFile() as fh:
        fh.write(payload)
        fh.seek(0)
        return subprocess.run(
            [sys.executable, "-S", str(hook_script()), "--home", str(home)], stdin=fh, capture_output=True,
            timeout=30, env={**os.environ, **(env or {})},
        )


def event(name: str, **extra: object) -> bytes:
    return json.dumps({"session_id": "s-1", "transcript_path": "/nonexistent.jsonl", "cwd": "/tmp",
                       "hook_event_name": name, **extra}).encode()


def test_event_is_appended_as_one_json_line(tmp_path: Path) -> None:
    result = fire(event("PostToolUse", tool_name="Bash", tool_input={"command": "echo 'a\nb'"}), tmp_path)
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b""
    lines = (tmp_path / "events" / "events.jsonl").read_bytes().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert obj["hook_event_name"] == "PostToolUse"
    assert obj["tool_input"] == {"command": "echo 'a\nb'"}
    assert obj["_bashgym_ts"] > 0


def test_pretty_printed_event_stays_one_line(tmp_path: Path) -> None:
    payload = json.dumps({"hook_event_name": "UserPromptSubmit", "prompt": "multi\nline"}, indent=2).encode()
    assert fire(payload, tmp_path).returncode == 0
    lines = (tmp_path / "events" / "events.jsonl").read_bytes().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["prompt"] == "multi\nline"


def test_garbage_stdin_exits_zero_and_logs_the_error(tmp_path: Path) -> None:
    for garbage in (b"", b"not json at all", b"\x00\xff\xfe binary", b"[1, 2, 3]", b'{"no_event": 1}'):
        result = fire(garbage, tmp_path)
        assert result.returncode == 0, garbage
    assert not (tmp_path / "events" / "events.jsonl").exists()
    errors = events.last_errors(tmp_path, n=10)
    assert len(errors) == 5
    assert "not a JSON object" in errors[0] and "without hook_event_name" in errors[-1]


def test_fifty_megabyte_stdin_is_stubbed_not_fatal(tmp_path: Path) -> None:
    big = json.dumps({"hook_event_name": "PostToolUse", "session_id": "big-1",
                      "tool_response": {"stdout": "x" * (50 * 1024 * 1024)}}).encode()
    result = fire(big, tmp_path)
    assert result.returncode == 0
    obj = json.loads((tmp_path / "events" / "events.jsonl").read_bytes())
    assert obj["session_id"] == "big-1" and obj["_bashgym_truncated_bytes"] == len(big)
    assert "stored as a stub" in events.last_errors(tmp_path)[-1]


def test_unwritable_home_still_exits_zero(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the home directory should be")
    assert fire(event("Stop"), blocker).returncode == 0


def test_stop_event_ingests_the_transcript_in_a_detached_process(tmp_path: Path, fixtures_dir: Path) -> None:
    transcript = next((fixtures_dir / "claude").rglob("*.jsonl"))
    if "subagents" in str(transcript):
        transcript = next(p for p in (fixtures_dir / "claude").rglob("*.jsonl") if "subagents" not in str(p))
    home = tmp_path / "bg"
    result = fire(event("Stop", transcript_path=str(transcript)), home, env={"BASHGYM_HOME": str(home)})
    assert result.returncode == 0
    import time

    from bashgym.store import Store

    deadline = time.time() + 30
    while time.time() < deadline:
        if (home / "bashgym.db").exists():
            with Store(home / "bashgym.db") as store:
                if store.count_sessions() >= 1:
                    break
        time.sleep(0.2)
    with Store(home / "bashgym.db") as store:
        assert store.count_sessions() >= 1
        assert store.source_file(str(transcript.resolve())) is not None


CONCURRENT_WORKER = r"""
import io, json, sys
sys.path.insert(0, sys.argv[1])
import hook
home, worker = sys.argv[2], int(sys.argv[3])
for i in range(1000):
    payload = json.dumps({"hook_event_name": "PostToolUse", "session_id": f"w{worker}", "seq": i,
                          "tool_response": {"stdout": "y" * (i % 7 * 300)}}).encode()
    sys.stdin = io.TextIOWrapper(io.BytesIO(payload))
    hook.main(["hook.py", "--home", home])
"""


def test_sixteen_concurrent_processes_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    """16 processes × 1,000 events through the hook's own append path: all 16,000 arrive exactly once."""
    worker = tmp_path / "worker.py"
    worker.write_text(CONCURRENT_WORKER)
    home = tmp_path / "bg"
    procs = [
        subprocess.Popen([sys.executable, str(worker), str(hook_script().parent), str(home), str(n)])
        for n in range(16)
    ]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    seen: set[tuple[str, int]] = set()
    lines = (home / "events" / "events.jsonl").read_bytes().splitlines()
    for line in lines:
        obj = json.loads(line)
        key = (obj["session_id"], obj["seq"])
        assert key not in seen, f"duplicate event {key}"
        seen.add(key)
    assert len(lines) == 16_000 and len(seen) == 16_000
    stats = events.event_stats(home)
    assert stats.by_event["PostToolUse"] == 16_000 and stats.unreadable == 0 and len(stats.sessions) == 16


def test_session_start_records_the_git_commit_and_the_import_uses_it(tmp_path: Path, fixtures_dir: Path) -> None:
    """Transcripts name the branch, not the commit: the SessionStart hook notes HEAD for `verify`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "a.txt").write_text("a\n")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    transcript = next(p for p in (fixtures_dir / "claude").rglob("*.jsonl") if "list_and_edit" in str(p).replace("-", "_"))
    session_id = transcript.stem
    home = tmp_path / "bg"
    fire(event("SessionStart", session_id=session_id, cwd=str(repo), source="startup"), home,
         env={"BASHGYM_HOME": str(home)})
    import time

    from bashgym.store import Store

    deadline = time.time() + 30
    context = None
    while time.time() < deadline and context is None:
        if (home / "bashgym.db").exists():
            with Store(home / "bashgym.db") as store:
                context = store.session_context(session_id)
        time.sleep(0.2)
    assert context and context["git_commit"] == head and context["git_branch"] == "main"
    assert context["git_dirty"] == 0
    from bashgym.sources.claude_code import ClaudeCodeSource
    from bashgym.sources.importer import import_paths

    with Store(home / "bashgym.db") as store:
        import_paths(store, ClaudeCodeSource(), [transcript])
        session = store.get_session(session_id)
    assert session.git_commit == head and session.meta["git_dirty_at_start"] is False


def _hook_argv(home: Path) -> list[str]:
    return [sys.executable, "-S", str(hook_script()), "--home", str(home)]


def test_events_log_replaced_by_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import time

    (tmp_path / "events").mkdir()
    fifo = tmp_path / "events" / "events.jsonl"
    os.mkfifo(fifo)
    # First with nobody reading the FIFO (a blocking open would wait forever), then with a reader holding it.
    for reader in (None, os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)):
        start = time.monotonic()
        result = fire(event("PostToolUse"), tmp_path)
        assert result.returncode == 0 and time.monotonic() - start < 1.0
        if reader is not None:
            try:
                assert os.read(reader, 100) == b""  # nothing was written into the FIFO
            except BlockingIOError:
                pass
            os.close(reader)
    assert fifo.is_fifo()
    assert any("not a regular file" in line for line in events.last_errors(tmp_path, n=5))


def test_stdin_held_open_returns_within_a_second_and_keeps_the_event(tmp_path: Path) -> None:
    import time

    for payload, kept in ((event("PostToolUse", tool_name="Bash"), True), (b'{"hook_event_name": "Stop", ', False)):
        proc = subprocess.Popen(_hook_argv(tmp_path), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        start = time.monotonic()
        assert proc.stdin is not None
        proc.stdin.write(payload)
        proc.stdin.flush()  # and never closed: the agent holds stdin open
        try:
            assert proc.wait(timeout=5) == 0
            assert time.monotonic() - start < 1.0
        finally:
            proc.kill()
            proc.stdin.close()
        lines = (tmp_path / "events" / "events.jsonl").read_bytes().splitlines() if kept else []
        if kept:
            assert json.loads(lines[-1])["tool_name"] == "Bash"
    assert "stdin was still open" in events.last_errors(tmp_path, n=5)[-1]


def test_status_counts_a_line_that_is_not_json_as_unreadable_not_as_an_event(tmp_path: Path) -> None:
    assert fire(event("PostToolUse"), tmp_path).returncode == 0
    with open(tmp_path / "events" / "events.jsonl", "ab") as fh:
        fh.write(b'{"hook_event_name":"X" garbage }\n{"hook_event_name": 3}\n')
    stats = events.event_stats(tmp_path)
    assert (stats.total, dict(stats.by_event), stats.unreadable) == (1, {"PostToolUse": 1}, 2)
    out = subprocess.run([sys.executable, "-m", "bashgym.cli", "hooks", "status", "--json", "--home", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    report = json.loads(out.stdout)
    assert (report["events_total"], report["unreadable_lines"], report["events"]) == (1, 2, {"PostToolUse": 1})


def test_stop_event_whose_transcript_is_missing_is_logged(tmp_path: Path) -> None:
    import time

    home = tmp_path / "bg"
    missing = tmp_path / "gone.jsonl"
    assert fire(event("Stop", transcript_path=str(missing)), home, env={"BASHGYM_HOME": str(home)}).returncode == 0
    payload = json.dumps({"hook_event_name": "SessionEnd", "session_id": "s-2"}).encode()
    assert fire(payload, home, env={"BASHGYM_HOME": str(home)}).returncode == 0
    deadline = time.time() + 30
    while time.time() < deadline and len(events.last_errors(home, n=10)) < 2:
        time.sleep(0.2)
    errors = events.last_errors(home, n=10)
    assert any(f"ingest: {missing}: transcript not found, nothing imported" in e for e in errors), errors
    assert any("SessionEnd event without a transcript path" in e for e in errors), errors
