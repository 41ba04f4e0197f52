"""`bashgym redact` as a real subprocess: plain text, JSON Lines, report, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GH = "ghp_" + "Zy8Xw7Vu6Ts5" * 3
EMAIL = "ingrid.lindqvist@fastmail.fm"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", "redact", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_plain_text_from_stdin_prints_redacted_text_and_summary():
    proc = run(stdin=f"export GITHUB_TOKEN={GH}\nmail {EMAIL}\nnothing here\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "export GITHUB_TOKEN=<SECRET_1>\nmail <EMAIL_1>\nnothing here\n"
    assert "removed 2 values in 3 lines" in proc.stderr
    assert "github_token 1" in proc.stderr and "email 1" in proc.stderr


def test_file_argument_with_private_key_across_lines(tmp_path: Path):
    body = "\n".join(["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" + "Qw9Er8Ty7"] * 5)
    path = tmp_path / "key.txt"
    path.write_text(f"$ cat id\n-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n")
    proc = run(str(path))
    assert proc.returncode == 0, proc.stderr
    assert "b3BlbnNzaC1rZXkt" not in proc.stdout
    assert "-----BEGIN OPENSSH PRIVATE KEY-----\n<SECRET_1>\n-----END OPENSSH PRIVATE KEY-----" in proc.stdout


def test_jsonl_redacts_only_the_field_and_keeps_the_rest():
    lines = [
        {"id": "a", "text": f"token {GH}", "note": EMAIL},
        {"id": "b", "text": {"nested": [EMAIL]}, "n": 2},
        {"id": "c"},
    ]
    proc = run("--jsonl", "--field", "text", stdin="".join(json.dumps(x) + "\n" for x in lines))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0] == {"id": "a", "text": "token <SECRET_1>", "note": EMAIL}
    assert out[1] == {"id": "b", "text": {"nested": ["<EMAIL_1>"]}, "n": 2}
    assert out[2] == {"id": "c"}


def test_report_flag_prints_json_report_with_locations(tmp_path: Path):
    path = tmp_path / "log.txt"
    path.write_text(f"ok\nok\nuser={EMAIL}\n")
    proc = run(str(path), "--report")
    report = json.loads(proc.stderr)
    assert report["total"] == 1 and report["counts"] == {"email": 1}
    assert report["locations"] == [{"kind": "email", "location": f"{path}:3"}]
    assert EMAIL not in proc.stderr


def test_current_users_home_is_removed(isolated_home: Path):
    proc = run(stdin=f"cd {isolated_home}/project && ls\n")
    assert proc.stdout == "cd /home/<USER>/project && ls\n"


def test_bad_jsonl_line_names_file_and_line():
    proc = run("--jsonl", stdin='{"text": "ok"}\nnot json\n')
    assert proc.returncode == 1
    assert "stdin:2: not valid JSON" in proc.stderr


def test_missing_file_and_field_without_jsonl_are_errors(tmp_path: Path):
    missing = run(str(tmp_path / "nope.txt"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    field = run("--field", "body", stdin="x\n")
    assert field.returncode == 1 and "--field needs --jsonl" in field.stderr


def test_output_option_writes_file(tmp_path: Path):
    out = tmp_path / "clean.txt"
    proc = run("-o", str(out), stdin=f"{EMAIL}\n")
    assert proc.returncode == 0 and proc.stdout == ""
    assert out.read_text() == "<EMAIL_1>\n"
