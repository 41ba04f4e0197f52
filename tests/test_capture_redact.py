"""capture.redact and the redaction lists, through the real CLI in subprocesses: imports store only redacted
text (sessions and the raw-line store) and re-derive still works; the hook's event log keeps only event names;
`bashgym config` reads and writes the settings; per-project deny/allow lists reach `bashgym redact` and the
dataset build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import zstandard

from bashgym.store import Store
from factory_sessions import save, session, topic_turn

SECRET = "ghp_" + "Zq8Xw3Lm9Kp2" * 3
EMAIL = "maria.garcia@gmail.com"


def cli(*args: str, input: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", *args], capture_output=True, text=True,
                          input=input, timeout=300, cwd=cwd, env={**os.environ, "COLUMNS": "200"})


def leaky_transcripts(fixtures_dir: Path, tmp_path: Path, typed: str = f"use GITHUB_TOKEN={SECRET} and mail {EMAIL}",
                      separators: tuple[str, str] = (",", ":")) -> Path:
    """The real Claude Code fixtures, with a token and an e-mail address typed into a user prompt."""
    root = tmp_path / "projects"
    shutil.copytree(fixtures_dir / "claude" / "projects", root)
    for path in sorted(root.rglob("*.jsonl")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            obj = json.loads(line)
            message = obj.get("message") or {}
            if obj.get("type") == "user" and isinstance(message.get("content"), str):
                message["content"] += "\n" + typed
                lines[i] = json.dumps(obj, separators=separators)
                path.write_text("\n".join(lines) + "\n")
                return root
    raise AssertionError("no user prompt in the fixtures")


def stored_text(home: Path) -> tuple[bytes, str, int]:
    """(every raw line, every session as JSON, how many sessions) of the store in `home`."""
    with Store.open(home) as store:
        raw = b"\n".join(line for state in store.source_files() for _, line in store.raw_lines(state.path))
        ids = list(store.iter_session_ids())
        sessions = "\n".join(json.dumps(store.get_session(sid).to_dict()) for sid in ids)
    return raw, sessions, len(ids)


def recoverable(home: Path, needle: str) -> list[str]:
    """Where `needle` can still be read in the files of `home` (the database, its WAL, the logs): as plain
    bytes, or inside any zstd frame found in them, live or in free space (how the store compresses text)."""
    hits = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if needle.encode() in data:
            hits.append(f"{path.name}: plain")
        i = data.find(zstandard.FRAME_HEADER)
        while i != -1:
            try:
                out = zstandard.ZstdDecompressor().decompressobj().decompress(data[i:i + (1 << 20)])
            except zstandard.ZstdError:
                out = b""
            if needle.encode() in out:
                hits.append(f"{path.name}: zstd frame at {i}")
            i = data.find(zstandard.FRAME_HEADER, i + 1)
    return hits


def wait_for(check, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_import_with_redact_stores_only_redacted_text_and_rederive_still_works(
        fixtures_dir: Path, tmp_path: Path, isolated_home: Path) -> None:
    root = leaky_transcripts(fixtures_dir, tmp_path)
    plain_home = tmp_path / "plain"
    plain = json.loads(cli("import", "claude", str(root), "--json", "--home", str(plain_home)).stdout)
    raw, sessions, n = stored_text(plain_home)
    assert SECRET.encode() in raw and SECRET in sessions  # what a store keeps without capture.redact

    out = cli("import", "claude", str(root), "--json", "--redact")
    assert out.returncode == 0, out.stderr
    redacted = json.loads(out.stdout)
    assert redacted["sessions"] == plain["sessions"] and redacted["steps"] == plain["steps"]
    home = isolated_home / ".bashgym"
    raw, sessions, n_redacted = stored_text(home)
    assert n_redacted == n
    for value in (SECRET, EMAIL):
        assert value.encode() not in raw and value not in sessions
    assert b"GITHUB_TOKEN=<SECRET_#" in raw and "<EMAIL_#" in sessions
    for line in raw.splitlines():  # every stored line still parses
        json.loads(line)

    again = cli("import", "claude", "--rederive", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sessions"] == plain["sessions"]
    raw_after, sessions_after, _ = stored_text(home)
    assert raw_after == raw and SECRET not in sessions_after and "GITHUB_TOKEN=<SECRET_#" in sessions_after


def test_capture_redact_setting_redacts_every_import_and_rederive_redacts_what_was_stored_raw(
        fixtures_dir: Path, tmp_path: Path, isolated_home: Path) -> None:
    root = leaky_transcripts(fixtures_dir, tmp_path)
    assert cli("import", "claude", str(root)).returncode == 0  # stored raw, before the setting
    home = isolated_home / ".bashgym"
    assert SECRET.encode() in stored_text(home)[0]
    out = cli("config", "set", "capture.redact", "true")
    assert out.returncode == 0 and "capture.redact = true" in out.stdout
    assert cli("config", "get", "capture.redact").stdout.strip() == "true"
    out = cli("import", "claude", "--rederive")
    assert out.returncode == 0, out.stderr
    raw, sessions, _ = stored_text(home)
    assert SECRET.encode() not in raw and SECRET not in sessions and EMAIL not in sessions
    assert recoverable(home, SECRET) == [] and recoverable(home, EMAIL) == []


def test_rederive_redact_leaves_no_readable_trace_of_the_rows_it_replaced(
        fixtures_dir: Path, tmp_path: Path, isolated_home: Path) -> None:
    # In this layout the replaced raw chunk's zstd frame stays in the file's free space unless the store
    # zeroes what it deletes (SQLite's secure_delete): checked by turning it off, which fails this test.
    root = leaky_transcripts(fixtures_dir, tmp_path, typed=f"use GITHUB_TOKEN={SECRET}", separators=(", ", ": "))
    assert cli("import", "claude", str(root)).returncode == 0
    home = isolated_home / ".bashgym"
    assert any("zstd frame" in hit for hit in recoverable(home, SECRET))  # the check sees compressed rows
    out = cli("import", "claude", "--rederive", "--redact")
    assert out.returncode == 0, out.stderr
    assert SECRET.encode() not in stored_text(home)[0]
    assert recoverable(home, SECRET) == []


def test_hooks_installed_with_redact_capture_a_session_without_a_readable_secret_and_rederive_works(
        fixtures_dir: Path, tmp_path: Path, isolated_home: Path) -> None:
    """The real hook, as Claude Code runs it: SessionStart (git context) and Stop (detached import)."""
    from bashgym.capture.install import hook_script

    root = leaky_transcripts(fixtures_dir, tmp_path)
    transcript = next(p for p in sorted(root.rglob("*.jsonl")) if SECRET in p.read_text())
    sid = next(json.loads(line)["sessionId"] for line in transcript.read_text().splitlines()
               if "sessionId" in json.loads(line))
    home = isolated_home / ".bashgym"
    assert cli("hooks", "install", "--redact").returncode == 0
    cwd = isolated_home / "src" / "app"  # under the user's home: the stored directory must not name them
    cwd.mkdir(parents=True)
    for name, extra in (("SessionStart", {"cwd": str(cwd)}),
                        ("Stop", {"cwd": str(cwd), "transcript_path": str(transcript)})):
        payload = json.dumps({"hook_event_name": name, "session_id": sid, **extra}).encode()
        fired = subprocess.run([sys.executable, "-S", str(hook_script()), "--home", str(home)], input=payload,
                               capture_output=True, timeout=30)
        assert fired.returncode == 0 and fired.stdout == b""

    def captured() -> bool:
        if not (home / "bashgym.db").exists():
            return False
        with Store.open(home) as store:
            return store.count_sessions() >= 1 and store.session_context(sid) is not None

    wait_for(captured, "the hook's detached import and context")
    raw, sessions, n = stored_text(home)
    assert n >= 1 and b"GITHUB_TOKEN=<SECRET_#" in raw
    assert SECRET not in sessions and EMAIL not in sessions
    with Store.open(home) as store:
        assert str(isolated_home) not in store.session_context(sid)["cwd"]
    assert recoverable(home, SECRET) == [] and recoverable(home, EMAIL) == []
    assert not (home / "events" / "errors.log").exists() or SECRET not in (home / "events" / "errors.log").read_text()

    again = cli("import", "claude", "--rederive", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sessions"] == n
    raw_after, sessions_after, _ = stored_text(home)
    assert raw_after == raw and "GITHUB_TOKEN=<SECRET_#" in sessions_after and SECRET not in sessions_after


def test_hook_keeps_only_event_names_when_capture_redact_is_on(isolated_home: Path) -> None:
    from bashgym.capture.install import hook_script

    home = isolated_home / ".bashgym"
    assert cli("hooks", "install", "--redact").returncode == 0
    assert json.loads((home / "config.json").read_text())["capture.redact"] is True
    payload = json.dumps({"hook_event_name": "PostToolUse", "session_id": "s-9", "cwd": "/home/maria/src",
                          "tool_input": {"command": f"export GITHUB_TOKEN={SECRET}"}}).encode()
    result = subprocess.run([sys.executable, "-S", str(hook_script()), "--home", str(home)], input=payload,
                            capture_output=True, timeout=30)
    assert result.returncode == 0
    line = (home / "events" / "events.jsonl").read_bytes()
    assert SECRET.encode() not in line and b"maria" not in line
    event = json.loads(line)
    assert event["hook_event_name"] == "PostToolUse" and event["session_id"] == "s-9"
    assert event["_bashgym_redacted"] is True
    from bashgym.capture.events import event_stats

    stats = event_stats(home)  # what `hooks status` counts still works
    assert stats.by_event["PostToolUse"] == 1 and stats.sessions == {"s-9"}
    garbled = f"GITHUB_TOKEN={SECRET} (not an event)".encode()  # what a broken caller might pipe in
    assert subprocess.run([sys.executable, "-S", str(hook_script()), "--home", str(home)], input=garbled,
                          capture_output=True, timeout=30).returncode == 0
    errors = (home / "events" / "errors.log").read_bytes()
    assert b"stdin was not a JSON object" in errors and SECRET[:8].encode() not in errors


def test_config_lists_and_rejects_bad_keys_and_values() -> None:
    listed = cli("config")
    assert listed.returncode == 0 and "capture.redact = false  (default)" in listed.stdout
    typo = cli("config", "set", "capture.redcat", "true")
    assert typo.returncode == 1 and "unknown setting 'capture.redcat'" in typo.stderr
    assert 'did you mean "capture.redact"' in typo.stderr
    bad = cli("config", "set", "capture.redact", "maybe")
    assert bad.returncode == 1 and "takes true or false, not 'maybe'" in bad.stderr
    scoped = cli("config", "set", "capture.redact", "true", "--project", ".")
    assert scoped.returncode == 1 and "not a per-project setting" in scoped.stderr


def test_project_deny_and_allow_lists_reach_bashgym_redact(tmp_path: Path) -> None:
    project = tmp_path / "client-x"
    (project / "src").mkdir(parents=True)
    assert cli("config", "set", "redact.deny", "Acme Corp,acme-internal.net", "--project", str(project)).returncode == 0
    assert cli("config", "set", "redact.allow", "support@initech.dev").returncode == 0
    text = "Acme  Corp asked; mail support@initech.dev or maria.garcia@gmail.com via acme-internal.net\n"
    inside = cli("redact", input=text, cwd=project / "src")
    assert inside.stdout == "<NAME_1> asked; mail support@initech.dev or <EMAIL_1> via <NAME_2>\n"
    outside = cli("redact", input=text, cwd=tmp_path)
    assert outside.stdout == "Acme  Corp asked; mail support@initech.dev or <EMAIL_1> via acme-internal.net\n"
    flags = cli("redact", "--project", str(project), "--deny", "asked", "--allow", "maria.garcia@gmail.com",
                "--user", "Maria Garcia", "--hostname", "build-07.corp", input=text + "on build-07.corp\n")
    assert flags.stdout == ("<NAME_1> <NAME_2>; mail support@initech.dev or maria.garcia@gmail.com via <NAME_3>\n"
                            "on <HOST_1>\n")
    assert cli("config", "get", "redact.deny", "--project", str(project / "src")).stdout.strip() == \
        "Acme Corp,acme-internal.net"


def test_dataset_build_applies_a_project_deny_list_to_that_project_only(store: Store) -> None:
    a = session("a", [topic_turn("nginx", 1)], project="/work/acme")
    b = session("b", [topic_turn("redis", 2)], project="/work/other")
    for s in (a, b):
        s.turns[0].prompt += " for Initrode"
    save(store, a, b)
    assert cli("config", "set", "redact.deny", "Initrode", "--project", "/work/acme").returncode == 0
    out = cli("dataset", "build", "--name", "lists", "--tier", "all", "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    rows = [json.loads(line) for split in ("train", "validation", "test")
            for line in (Path(record["path"]) / f"{split}.jsonl").read_text().splitlines()]
    text = {r["messages"][0]["content"].split(" for ")[-1] for r in rows if "for " in r["messages"][0]["content"]}
    assert text == {"<NAME_1>", "Initrode"}
    assert record["counts"]["redaction"]["counts"].get("deny_list") == 1
