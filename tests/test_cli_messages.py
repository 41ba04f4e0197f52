"""What a newcomer reads: help rows, table titles, ids in lists, and the next step when there is nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bashgym.store import Store
from factory_sessions import bash, save, say, session


def bashgym(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "bashgym.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": str(columns)})


def test_help_shows_no_type_for_flags_but_keeps_it_for_values() -> None:
    out = bashgym("sessions", "list", "--help").stdout
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ --")}
    assert "<bool>" not in out
    assert "<int>" in rows["--limit"] and "<str>" in rows["--sort"] and "<path>" in rows["--home"]


def test_sessions_list_shows_a_prefix_that_tells_rollouts_apart(store: Store) -> None:
    ids = ["gym-ev-20261201-101010-aaaa-task1-s0", "gym-ev-20261201-101010-aaaa-task1-s1", "abc123"]
    save(store, *(session(i, [("list files", [bash("ls"), say("done")])], source="gym") for i in ids))
    store.close()
    out = bashgym("sessions", "list", columns=200).stdout
    assert "gym-ev-20261201-101010-aaaa-task1-s0 " in out and "gym-ev-20261201-101010-aaaa-task1-s1 " in out
    assert "abc123" in out
    shown = bashgym("sessions", "show", "gym-ev-20261201-101010-aaaa-task1-s1", "--json")
    assert shown.returncode == 0, shown.stderr


def test_import_claude_without_projects_says_what_to_do_next(isolated_home: Path) -> None:
    proc = bashgym("import", "claude")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    root = isolated_home / ".claude" / "projects"
    assert f"no claude files found at {root} (it does not exist)" in text
    assert "`bashgym import claude PATH`" in text and "`bashgym hooks install`" in text


def test_import_summary_prints_the_path_whole(tmp_path: Path, fixtures_dir: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 3) / "projects"
    deep.mkdir(parents=True)
    for f in (fixtures_dir / "claude").rglob("*.jsonl"):
        if "subagents" not in str(f):
            (deep / f.name).write_bytes(f.read_bytes())
            break
    out = bashgym("import", "claude", str(deep), columns=60).stdout
    assert str(deep) in out.replace("\n", "")
    assert f"import claude: {deep}" in out.replace("\n", "")


def test_sessions_show_strips_terminal_escapes_from_transcript_text(store: Store) -> None:
    """A transcript must not drive the reader's terminal: OSC-8 links, screen clears, titles, bells go."""
    from bashgym.schema import Session, Step, Turn

    link = "\x1b]8;;javascript:alert(1)\x1b\\click me\x1b]8;;\x1b\\"
    save(store, Session(id="sess-esc-1", source="claude_code", project="p\x1b]0;owned\x07roj", turns=[Turn(
        index=0, prompt=f"open {link}\x1b[2J now", steps=[
            Step(kind="message", role="assistant", text="done \x1b[31mred\x1b[0m\x07", thinking="\x1b]52;c;cGFzdGU=\x07"),
            Step(kind="tool_call", tool_name="Bash\x1b[1A", input={"command": "cat x\x1b[H"},
                 output="out\x9b2Jput\x1b]8;;http://evil\x07x\x1b]8;;\x07", exit_code=0)])]))
    store.close()
    proc = bashgym("sessions", "show", "sess-esc-1", columns=200)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\x9b" not in proc.stdout
    assert "javascript" not in proc.stdout and "owned" not in proc.stdout
    for seen in ("open click me now", "done red", "output", "cat x", "proj"):
        assert seen in proc.stdout, seen
