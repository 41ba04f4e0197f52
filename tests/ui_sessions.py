"""Sessions the UI tests share: an ordinary one, one with a subagent, and a hostile one."""

from __future__ import annotations

from bashgym.schema import Session, Step, Turn, Usage
from bashgym.store import Store

HOSTILE_TITLE = "<script>alert('title')</script><img src=x onerror=alert('img')>"
HOSTILE_PROMPT = "<b>bold?</b><script>document.title='pwned'</script><div id=injected>INJECTED</div>"


def ordinary_session() -> Session:
    return Session(
        id="sess-ok-0001", source="claude_code", project="webapp", models=["claude-sonnet"],
        started_at="2026-11-21T10:00:00Z", ended_at="2026-11-21T10:03:00Z", usage=Usage(1200, 300),
        turns=[
            Turn(index=0, prompt="fix the flaky test in test_io.py", started_at="2026-11-21T10:00:00Z",
                 ended_at="2026-11-21T10:01:30Z", usage=Usage(800, 200), steps=[
                     Step(kind="message", thinking="look at the test first", text="Running the tests."),
                     Step(kind="tool_call", tool_name="Bash", call_id="c1",
                          input={"command": "pytest -x tests/test_io.py"},
                          output="\x1b[1m\x1b[32m3 passed\x1b[0m in 0.21s", exit_code=0, duration_ms=2100),
                     Step(kind="tool_call", tool_name="Edit", call_id="c2",
                          input={"file_path": "src/io.py", "old_string": "timeout = 1\n",
                                 "new_string": "timeout = 5\n"}, output="ok"),
                     Step(kind="tool_call", tool_name="Task", call_id="c3", input={"prompt": "check docs"},
                          output="done", meta={"subagent_session_id": "sess-ok-0001-agent"}),
                 ]),
            Turn(index=1, prompt="now commit it", steps=[
                Step(kind="tool_call", tool_name="Bash", input={"command": "git commit -am 'fix timeout'"},
                     output="[main 1234abc] fix timeout", exit_code=0)]),
        ],
    )


def subagent_session() -> Session:
    return Session(
        id="sess-ok-0001-agent", source="claude_code", project="webapp", parent_id="sess-ok-0001",
        started_at="2026-11-21T10:00:40Z",
        turns=[Turn(index=0, prompt="check docs", steps=[
            Step(kind="tool_call", tool_name="Bash", input={"command": "grep -r zebrafish docs/"},
                 output="docs/zoo.md: zebrafish", exit_code=0)])],
    )


def hostile_session() -> Session:
    binary = "\x7fELF\x02\x01\x01\x00\x00\x00\x00<script>alert('bin')</script>\x00\x00\xff"
    return Session(
        id="sess-evil-0001", source="codex", project="pwn", models=["gpt-x"], title=HOSTILE_TITLE,
        started_at="2026-11-20T09:00:00Z",
        turns=[Turn(index=0, prompt=HOSTILE_PROMPT, steps=[
            Step(kind="message", text="<iframe src=javascript:alert('iframe')></iframe>",
                 thinking="<svg onload=alert('svg')>"),
            Step(kind="tool_call", tool_name="Bash", input={"command": "cat page.html"},
                 output="\x1b[31m<script>alert('ansi')</script>\x1b[0m\n" + "A" * 300_000, exit_code=1),
            Step(kind="tool_call", tool_name="Bash", input={"command": "cat /bin/ls"}, output=binary),
            Step(kind="tool_call", tool_name="Write",
                 input={"file_path": "x.html", "content": "<script>alert('write')</script>\n"}, output="ok"),
        ])],
    )


def seed(store: Store) -> None:
    """Save the three sessions plus a judge score with an explanation on the ordinary one."""
    with store.transaction():
        for s in (ordinary_session(), subagent_session(), hostile_session()):
            store.save_session(s)
        store.put_score("sess-ok-0001", 0, "heuristic", 0.82, "gold",
                        {"explanation": "tests pass after the edit", "exit_ok": 1.0})
        store.put_score("sess-ok-0001", -1, "heuristic", 0.8, "gold", {})
        store.put_score("sess-evil-0001", -1, "heuristic", 0.1, "failed", {})
