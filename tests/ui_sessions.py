"""Sessions the UI tests share: an ordinary one, one with a subagent, and a hostile one."""

from __future__ import annotations

import json
from pathlib import Path

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


def seed_artifacts(store: Store, folder: Path, *, base_rate: float = 0.4, adapter_rate: float = 0.65) -> None:
    """A dataset (30 rows, a card with hostile markup), a training run with loss curves, and two evals of
    suite builtin (base and adapter) with rollouts, as the factory, train and eval record them."""
    ds = folder / "ds-demo-v1"
    ds.mkdir(parents=True)
    rows = [{"messages": [{"role": "user", "content": f"task {i} " + "x" * (40 * (i + 1))},
                          {"role": "assistant", "content": f"answer {i}"}],
             "example_id": f"ex-{i:03d}", "session_id": "sess-ok-0001" if i % 2 == 0 else "sess-evil-0001",
             "turn_idx": i % 2 if i % 2 == 0 else 0, "tier": "gold" if i % 2 == 0 else "silver",
             "source": "claude_code" if i % 2 == 0 else "codex"}
            for i in range(30)]
    (ds / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (ds / "README.md").write_text("# demo dataset <script>alert(1)</script>\n\nSome *notes*.\n")
    store.add_dataset(
        "ds-demo-v1", name="demo", version=1, path=str(ds), config={"select": {"tiers": ["gold"]}},
        counts={"examples": 30, "sources": {"claude_code": 2, "codex": 1},
                "redaction": {"counts": {"secret": 3, "email": 1}}},
        content_hash="abc", redacted=True, session_ids=["sess-ok-0001", "sess-evil-0001"],
    )
    with store.transaction():
        store.create_run("run-demo", "sft", dataset_id="ds-demo-v1", base_model="tiny", config={"lr": 1e-4},
                         output_dir=str(folder / "run"))
    with store.transaction():
        store.update_run("run-demo", status="completed", finished=True, metrics={
            "loss_history": [[s, 0.9 - 0.002 * s] for s in range(1, 41)],
            "eval_loss_history": [[s, 0.95 - 0.002 * s] for s in range(5, 41, 5)], "final_loss": 0.82})
    for eid, adapter, rate in (("ev-base", None, base_rate), ("ev-adapter", "run-demo", adapter_rate)):
        with store.transaction():
            store.create_eval(eid, model="tiny", adapter_run_id=adapter, suite="builtin", k=2, config={})
            store.set_eval_metrics(eid, {"k": 2, "overall": {"pass@1": rate, "tasks": 2},
                                         "categories": {"files": {"pass@1": rate, "tasks": 1, "samples": 2, "passed": 1},
                                                        "git": {"pass@1": rate / 2, "tasks": 1, "samples": 2, "passed": 0}}})
            passed = adapter is not None  # files-001 flips from failed (base) to passed (adapter)
            store.put_rollout(eid, "files-001", 0, session_id="sess-ok-0001", reward=float(passed),
                              status="passed" if passed else "failed", detail={})
            store.put_rollout(eid, "git-002", 0, session_id=None, reward=0.0, status="failed", detail={})


def failing_session() -> Session:
    """A turn the judge fails: the tests error out, the same call is repeated, the agent admits failure."""
    run = {"command": "pytest tests/test_api.py"}
    err = "E   ModuleNotFoundError: No module named 'requests'\n1 error in 0.05s"
    return Session(
        id="sess-fail-0001", source="claude_code", project="api", models=["claude-sonnet"],
        started_at="2026-11-22T08:00:00Z",
        turns=[Turn(index=0, prompt="make the api tests pass", steps=[
            Step(kind="message", role="user", text="make the api tests pass"),
            *[Step(kind="tool_call", tool_name="Bash", call_id=f"f{i}", input=run, output=err, exit_code=1)
              for i in range(3)],
            Step(kind="message", role="assistant", text="I could not get the tests to pass; the module is missing."),
        ])],
    )


def judge(store: Store, *session_ids: str) -> None:
    """Score sessions with the real heuristic judge (default config), as `bashgym judge` does."""
    from bashgym.judge.config import load_config
    from bashgym.judge.runner import judge_session

    for sid in session_ids:
        judge_session(store, sid, load_config())
