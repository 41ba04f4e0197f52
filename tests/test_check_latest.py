"""tests/harness/check_latest.py: how a new agent CLI release is noticed, outside CI. Its shape diff sees a
format change, and run end to end against the locked version it reports no change."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness.check_latest import shape  # noqa: E402
from harness.npm_tools import CODEX_PACKAGE, locked_version  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def test_shape_sees_a_new_key_and_a_lost_record_kind(tmp_path: Path) -> None:
    [rollout] = (FIXTURES / "codex").glob("*.jsonl")
    records = [json.loads(line) for line in rollout.read_text().splitlines()]
    before = shape(FIXTURES / "codex")
    assert "session_meta: payload.cli_version" in before
    changed = []
    for record in records:
        if record["type"] == "turn_context":
            continue  # a record kind the new version no longer writes
        if record["type"] == "response_item":
            record["payload"]["metadata"] = {"search": 1}
        changed.append(record)
    (tmp_path / rollout.name).write_text("\n".join(json.dumps(r) for r in changed) + "\n")
    after = shape(tmp_path)
    assert "response_item/function_call: payload.metadata.search" in after - before
    assert {p.split(":")[0] for p in before - after} == {"turn_context"}


def test_shape_of_an_opencode_database_lists_columns_and_data_keys(tmp_path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(tmp_path / "opencode.db")
    db.execute("CREATE TABLE part (id TEXT, data TEXT)")
    db.execute("INSERT INTO part VALUES ('p1', ?)", (json.dumps({"type": "tool", "state": {"status": "ok"}}),))
    db.commit()
    db.close()
    assert shape(tmp_path) == {"part.id", "part.data", "part.data(tool): type", "part.data(tool): state",
                               "part.data(tool): state.status"}


@pytest.mark.slow
def test_checking_the_locked_codex_against_itself_reports_no_change(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is required: check_latest installs the CLI it checks")
    script = Path(__file__).parent / "harness" / "check_latest.py"
    proc = subprocess.run([sys.executable, str(script), "--only", "codex", "--spec", locked_version(CODEX_PACKAGE),
                           "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [finding] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert (finding["locked"], finding["checked"], finding["changed"], finding["error"]) == (
        locked_version(CODEX_PACKAGE), locked_version(CODEX_PACKAGE), False, "")
    assert finding["import_checked"]["sessions"] == 1 and finding["import_checked"]["tool_calls"] >= 3
