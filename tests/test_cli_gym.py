"""`bashgym gym list|check|doctor` as a user runs them (a real subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "gym"
BUILTIN = Path(__file__).parents[1] / "src" / "bashgym" / "gym" / "tasks" / "builtin"


def gym(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", "gym", *args], capture_output=True, text=True,
                          timeout=300)


def test_check_passes_sound_tasks_of_every_layout_and_prints_a_table():
    proc = gym("check", str(FIXTURES / "harbor"), str(FIXTURES / "terminal-bench" / "csv-summary"),
               str(BUILTIN / "git-tag-release"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4/4 sound" in proc.stdout
    for name in ("word-count", "json-reward", "csv-summary", "git-tag-release"):
        assert name in proc.stdout


def test_check_exits_nonzero_for_a_task_whose_empty_attempt_passes(tmp_path: Path):
    broken = tmp_path / "always-passes"
    shutil.copytree(BUILTIN / "files-symlink", broken)
    (broken / "tests" / "test.sh").write_text("#!/bin/bash\nexit 0\n")
    proc = gym("check", "--json", str(broken), str(BUILTIN / "files-symlink"))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    rows = {r["path"]: r for r in report["results"]}
    assert rows[str(broken)]["ok"] is False and rows[str(broken)]["empty"] == "pass"
    assert "tests pass without any work" in rows[str(broken)]["problem"]
    assert rows[str(BUILTIN / "files-symlink")]["ok"] is True


def test_doctor_names_the_active_layer_and_why():
    proc = gym("doctor", "--json")
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert report["layer"] == "bubblewrap" and report["reason"]
    # As root (CI, this machine) the host mounts each episode's size-limited tmpfs.
    assert report["disk_quota"] is report["root"] and report["disk_quota_reason"]
    plain = gym("doctor")
    assert "sandbox layer: bubblewrap" in plain.stdout and "disk quota:" in plain.stdout


def test_list_shows_the_builtin_suite():
    rows = json.loads(gym("list", "--json").stdout)
    assert len(rows) >= 40 and {"id", "category", "instruction"} <= set(rows[0])
    assert all(r["category"] == "git" for r in json.loads(gym("list", "--category", "git", "--json").stdout))
