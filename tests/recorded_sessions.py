"""One store holding every source's recorded sessions: Claude Code, Codex and Gemini transcripts recorded by
the real CLIs (tests/fixtures: Claude Code with a subagent, a compaction and parallel calls; an OpenCode 1.18
database with parallel calls, make_opencode_fixtures.py), plus OpenCode 1.x and 2.x databases shaped like
real ones (tests/opencode_db_fixtures.py), imported by bashgym's own importers."""

from __future__ import annotations

from pathlib import Path

from bashgym.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


def recorded_store(tmp: Path) -> Store:
    from bashgym.sources.importer import import_paths
    from bashgym.sources.registry import get_source
    from opencode_db_fixtures import write_opencode2_db, write_opencode_db

    roots = [("claude", FIXTURES / "claude" / "projects"), ("claude", FIXTURES / "claude_more" / "projects"),
             ("codex", FIXTURES / "codex"),
             ("gemini", FIXTURES / "gemini"), ("opencode", FIXTURES / "opencode")]
    for name, writer in (("opencode", write_opencode_db), ("opencode2", write_opencode2_db)):
        (tmp / name).mkdir()
        writer(tmp / name / "opencode.db")
        roots.append(("opencode", tmp / name))
    store = Store(tmp / "bashgym.db")
    for name, root in roots:
        fmt = get_source(name)
        summary = import_paths(store, fmt, fmt.discover(root))
        assert not summary.errors, summary.errors
    return store
