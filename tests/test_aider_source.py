"""The Aider parser on the history the real aider 0.86.2 wrote (tests/fixtures/aider, recorded by
tests/harness/make_aider_fixtures.py), and on the shapes that run does not produce: a cut-off start, a note
that spans lines, an edit aider did not apply, cache and k-suffixed token counts, a grown file."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.sources.aider import discover_histories, edits_in, parse_history
from bashgym.sources.registry import get_source
from bashgym.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "aider"
runner = CliRunner()


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Aider writes local wall-clock times; read them in UTC so the expected instants are fixed."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def parse(path: Path):
    source = get_source("aider")
    return source.parse(str(path), [(1, path.read_bytes())])


def test_recorded_history_has_one_session_per_start_with_times_from_the_input_history() -> None:
    parsed = parse(FIXTURES / ".aider.chat.history.md")
    assert parsed.errors == []
    task, run = parsed.sessions
    assert task.started_at == "2026-12-05T10:42:08.000Z" and run.started_at == "2026-12-05T10:42:19.000Z"
    assert task.agent_version == run.agent_version == "0.86.2"
    assert task.models == ["openai/scripted-coder-1"] and task.meta["git_repo"] == ".git with 1 files"
    [turn] = task.turns
    assert turn.started_at == "2026-12-05T10:42:14.726Z"
    edit, wc = turn.tool_calls
    assert wc.timestamp == "2026-12-05T10:42:16.523Z" == turn.ended_at  # aider noted it as `/run wc -l notes.txt`
    assert (edit.output, wc.input) == ("Applied edit to notes.txt", {"command": "wc -l notes.txt"})
    assert turn.meta["commits"] == [{"sha": "04fbc54", "message": "Greet in notes.txt instead of the TODO"}]
    assert run.turns[0].started_at == "2026-12-05T10:42:20.785Z"
    # Ids are stable across parses and differ between the two starts.
    assert [s.id for s in parse(FIXTURES / ".aider.chat.history.md").sessions] == [task.id, run.id] != [task.id] * 2


HAND_MADE = """\
#### fix the bug$
#### in both files$

Here are the edits.

a.py
```python
<<<<<<< SEARCH
x = 1
=======
x = 2
>>>>>>> REPLACE
```

b.py
```python
<<<<<<< SEARCH
y = 1
=======
y = 2
>>>>>>> REPLACE
```

```bash
pytest -q
ruff check .
```

> Tokens: 2.5k sent, 1.2k cache write, 300 cache hit, 120 received. Cost: $0.01 message, $0.02 session.$
> Applied edit to a.py$
> b.py$
> # 1 SEARCH/REPLACE block failed to match!
y = 1$
> pytest -q
ruff check .$
> Run shell commands? (Y)es/(N)o/(D)on't ask again [Yes]: y$
> Running pytest -q$
> Running ruff check .$
""".replace("$\n", "  \n")  # "$": a line aider ended with two spaces


def test_a_cut_off_history_still_gives_prompts_edits_failures_commands_and_usage(tmp_path: Path) -> None:
    [session] = parse_history(str(tmp_path / ".aider.chat.history.md"), HAND_MADE).sessions
    [turn] = session.turns
    assert turn.prompt == "fix the bug\nin both files"
    a, b, pytest_, ruff = turn.tool_calls
    assert (a.input["file_path"], a.output, a.is_error) == ("a.py", "Applied edit to a.py", False)
    assert (b.input["file_path"], b.is_error, b.meta["not_applied"]) == ("b.py", True, True)
    assert [c.input["command"] for c in (pytest_, ruff)] == ["pytest -q", "ruff check ."]
    # The multi-line confirmation subject is one note, not a reply.
    assert [s.text for s in turn.steps if s.role == "assistant" and s.kind == "message"] == [
        HAND_MADE[HAND_MADE.index("Here are"):HAND_MADE.index("\n\n> Tokens")]]
    assert any("failed to match" in e for e in turn.meta["edit_errors"])
    u = turn.usage
    assert (u.input_tokens, u.cache_creation_tokens, u.cache_read_tokens, u.output_tokens) == (1000, 1200, 300, 120)


def test_edits_are_unified_diffs_of_the_search_and_replace_text() -> None:
    [edit] = edits_in("x.txt\n```\n<<<<<<< SEARCH\na\nb\n=======\na\nc\n>>>>>>> REPLACE\n```")
    assert edit["diff"] == "--- a/x.txt\n+++ b/x.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    assert (edit["old_string"], edit["new_string"]) == ("a\nb", "a\nc")


def test_empty_or_note_only_history_has_no_sessions(tmp_path: Path) -> None:
    assert parse_history("h.md", "").sessions == []
    assert parse_history("h.md", "\n# aider chat started at 2026-01-01 10:00:00\n\n> Aider v0.86.2  \n").sessions == []


def test_discovery_finds_histories_in_repositories_and_skips_dependency_dirs(tmp_path: Path) -> None:
    for rel in ("code/app", "code/app/node_modules/pkg", "code/.venv/lib", ".hidden/repo", "a/b/c/d/e/f/g/h"):
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / ".aider.chat.history.md").write_text("#### hi  \n")
    assert discover_histories(tmp_path) == [tmp_path / "code/app/.aider.chat.history.md"]


def test_import_reads_a_grown_history_again_and_keeps_earlier_sessions(isolated_home: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    history = repo / ".aider.chat.history.md"
    text = (FIXTURES / ".aider.chat.history.md").read_text()
    cut = text.index("\n# aider chat started at 2026-12-05 10:42:19")
    history.write_text(text[:cut])
    shutil.copy(FIXTURES / ".aider.input.history", repo / ".aider.input.history")
    first = runner.invoke(app, ["import", "aider", str(repo), "--json"])
    assert first.exit_code == 0 and json.loads(first.output)["sessions"] == 1, first.output
    history.write_text(text)
    grown = runner.invoke(app, ["import", "aider", str(repo), "--json"])
    assert grown.exit_code == 0, grown.output
    with Store.open() as store:
        prompts = sorted(store.get_session(s["id"]).turns[0].prompt for s in store.list_sessions(source="aider"))
    assert prompts == ["/run cat notes.txt", "[AI1] Replace the TODO in notes.txt with a greeting, then count its lines."]


def test_import_all_lists_aider_only_when_a_history_is_found(isolated_home: Path) -> None:
    empty = runner.invoke(app, ["import", "all", "--json"])
    assert empty.exit_code == 0 and "aider" not in {s["source"] for s in json.loads(empty.output)["sources"]}
    repo = isolated_home / "code" / "proj"
    repo.mkdir(parents=True)
    shutil.copy(FIXTURES / ".aider.chat.history.md", repo / ".aider.chat.history.md")
    found = runner.invoke(app, ["import", "all", "--json"])
    report = {s["source"]: s for s in json.loads(found.output)["sources"]}
    assert report["aider"]["sessions"] == 2 and report["aider"]["root"] == str(isolated_home)


def test_import_of_a_missing_path_names_it(isolated_home: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "aider", str(tmp_path / "nope")])
    assert result.exit_code != 0 and f"no such file or directory: {tmp_path / 'nope'}" in str(result.exception)


def test_an_edit_aider_could_not_apply_makes_the_final_reply_fall_short() -> None:
    from bashgym.judge.signals import ended_fulfilled

    [session] = parse_history("h.md", HAND_MADE).sessions
    signal = ended_fulfilled(session.turns[0])
    assert signal.value == 0.25 and "b.py" in signal.evidence[0].text
