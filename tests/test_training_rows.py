"""Training rows as chat templates see them: tool-call arguments are objects, each tool keeps its own keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bashgym.store import Store

pytest.importorskip("datasets")


def _call(call_id: str, name: str, args: dict) -> dict:
    return {"type": "function", "id": call_id, "function": {"name": name, "arguments": json.dumps(args)}}


def test_training_data_gives_templates_argument_objects_with_only_their_own_keys(tmp_path: Path,
                                                                               store: Store) -> None:
    from bashgym.train.data import load_training_data

    rows = [
        {"messages": [{"role": "user", "content": "look"},
                      {"role": "assistant", "content": "", "tool_calls": [_call("a", "Bash", {"command": "ls"})]},
                      {"role": "tool", "tool_call_id": "a", "name": "Bash", "content": "x"}],
         "tools": json.dumps([{"type": "function", "function": {"name": "Bash"}}])},
        {"messages": [{"role": "user", "content": "read"},
                      {"role": "assistant", "content": "", "tool_calls": [
                          _call("b", "Read", {"file_path": "/w/a.py", "limit": 3})]},
                      {"role": "tool", "tool_call_id": "b", "name": "Read", "content": "1 x"}],
         "tools": [{"type": "function", "function": {"name": "Read"}}]},
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_training_data(str(tmp_path), store, "sft")
    first, second = (data.train[i]["messages"][1]["tool_calls"][0]["function"]["arguments"] for i in (0, 1))
    assert first == {"command": "ls"}  # an object, and no `file_path: None` borrowed from the Read row
    assert second == {"file_path": "/w/a.py", "limit": 3}
    assert data.train[0]["tools"] == [{"type": "function", "function": {"name": "Bash"}}]


# ------------------------------------------------------------------------------- round-trip fidelity
# Sessions recorded by the real CLIs (tests/fixtures: Claude Code with a subagent, Codex, Gemini) and
# OpenCode databases shaped like real ones (tests/opencode_db_fixtures.py) are exported in every format;
# bashgym's own importer reads each row back, and the conversation must be the session's, exactly.

SOURCES = ("claude_code", "codex", "gemini", "opencode")
SFT_FORMATS = ("messages", "sharegpt", "adp", "atif")
# What each format documents it does not carry (docs/formats.md, "Training rows").
KEEPS_CALL_IDS = {"messages": True, "sharegpt": False, "adp": "non-shell", "atif": True}
KEEPS_THINKING = {"messages": True, "sharegpt": False, "adp": True, "atif": True}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    from recorded_sessions import recorded_store

    store = recorded_store(tmp_path_factory.mktemp("recorded"))
    yield store
    store.close()


def _config(fmt: str, source: str) -> Any:
    from bashgym.factory.config import DatasetConfig

    return DatasetConfig.model_validate({
        "name": f"rt-{source}-{fmt}", "format": fmt, "select": {"sources": [source]},
        "segment": {"mode": "session"}, "dedup": {"exact": False, "near": False},
        "decontaminate": {"enabled": False}, "shape": {"include_thinking": True, "max_output_chars": 10**9}})


def _rows(store: Store, fmt: str, source: str) -> list[dict[str, Any]]:
    from bashgym.factory.build import run_pipeline

    rows, report = run_pipeline(store, _config(fmt, source), redact=False)
    fmt_stats = next(s for s in report["steps"] if s["name"] == "format")
    assert "calls_without_message_id" not in (fmt_stats.get("counters") or {})  # every importer records it
    # what the writer puts in train.jsonl, read back as a reader would
    return [json.loads(json.dumps({k: v for k, v in r.items() if not k.startswith("_")})) for r in rows]


def _view(sessions: list[Any], fmt: str) -> list[tuple]:
    """A session's conversation as the format can carry it: user messages, and per assistant message its
    text, thinking and calls (name, arguments, output, id) in order."""
    from bashgym.factory.formats import dialogue
    from bashgym.schema import is_shell_call, shell_command

    out: list[tuple] = []
    for session in sessions:
        for turn in session.turns:
            for said in dialogue(turn):
                if said.role == "user":
                    out.append(("user", said.text))
                    continue
                calls = []
                for c in said.calls:
                    name, args, cid = c.tool_name, c.input if isinstance(c.input, dict) else {"input": c.input}, c.call_id
                    shell = is_shell_call(c) or c.tool_name == "bash"
                    if fmt == "adp" and shell:
                        name, args = "bash", {"command": shell_command(c) if is_shell_call(c) else args["command"]}
                    keep_id = KEEPS_CALL_IDS[fmt] is True or (KEEPS_CALL_IDS[fmt] == "non-shell" and not shell)
                    calls.append((name, args, c.output or "", cid if keep_id else None))
                thinking = said.thinking if KEEPS_THINKING[fmt] else ""
                if said.text or thinking or calls:
                    out.append(("assistant", said.text, thinking, tuple(calls)))
    return out


def _read_back(row: dict[str, Any], fmt: str) -> list[Any]:
    from bashgym.sources.datasets import PARSERS

    parser = PARSERS["openai" if fmt == "messages" else fmt]
    return parser(row, "rows.jsonl")


@pytest.mark.parametrize("fmt", SFT_FORMATS)
@pytest.mark.parametrize("source", SOURCES)
def test_rows_read_back_give_the_sessions_conversation_exactly(recorded: Store, source: str, fmt: str) -> None:
    from bashgym.factory.select import load_example

    rows = _rows(recorded, fmt, source)
    sessions = [s for s in map(recorded.get_session, recorded.iter_session_ids(parent=""))
                if s.source == source and s.steps]  # a session with nothing in it makes no row
    assert len(rows) == len(sessions) > 0
    for row in rows:
        original = load_example(recorded, row["session_id"])
        back = _read_back(row, fmt)
        parent = [s for s in back if s.parent_id is None]
        expected = _view([original.session], fmt)
        assert _view(parent, fmt) == expected, row["session_id"]
        users = [m for m in expected if m[0] == "user"]
        prompts = [t.prompt for t in original.session.turns if t.prompt]
        assert [m[1] for m in users if m[1] in prompts] == prompts  # each prompt exactly once, in order
        if fmt == "atif":  # subagents travel with the parent, each its own conversation
            kids = sorted(original.children, key=lambda s: s.id)
            kids_back = sorted((s for s in back if s.parent_id is not None), key=lambda s: s.id)
            assert [s.id for s in kids_back] == [f"import-{s.id}" for s in kids]
            for kid, kid_back in zip(kids, kids_back, strict=True):
                assert _view([kid_back], fmt) == _view([kid], fmt)


def test_round_trip_covers_subagents_compaction_parallel_and_sequential_calls(recorded: Store) -> None:
    """The table above is only as good as what the fixtures hold: a subagent, a compaction, both call shapes."""
    from bashgym.factory.formats import dialogue

    sessions = [recorded.get_session(sid) for sid in recorded.iter_session_ids()]
    claude = [s for s in sessions if s.source == "claude_code"]
    assert any(s.parent_id for s in claude)
    compacted = next(s for s in claude if s.meta.get("compactions"))
    said = [d for t in compacted.turns for d in dialogue(t)]
    summary = next(st.text for st in compacted.steps if st.meta.get("compact_summary"))
    assert [d.text for d in said if d.role == "user"].count(summary) == 1  # the model was shown it as a user message
    assert not any(d.text == "No response requested." for d in said)  # the CLI's <synthetic> reply is not the model's
    made = [d for s in claude for t in s.turns for d in dialogue(t) if d.calls]
    assert any(len(d.calls) > 1 for d in made)  # parallel: two tool_use blocks in one message
    assert sum(len(d.calls) == 1 for d in made) > 3  # sequential: one model message per call
    real_opencode = next(s for s in sessions if s.source == "opencode" and s.agent_version == "1.18.33")
    shapes = [len(d.calls) for t in real_opencode.turns for d in dialogue(t) if d.calls]
    assert shapes == [2, 1]  # the real OpenCode CLI: bash + read at once, then the edit after their results


@pytest.mark.parametrize("source", SOURCES)
def test_messages_rows_have_each_prompt_once_and_no_consecutive_duplicates(recorded: Store, source: str) -> None:
    for row in _rows(recorded, "messages", source):
        msgs = row["messages"]
        assert msgs[0]["role"] == "user"
        for a, b in zip(msgs, msgs[1:], strict=False):
            assert not (a["role"] == b["role"] and a.get("content") == b.get("content") and a["role"] != "tool"), a
        for m in msgs:
            for call in m.get("tool_calls") or []:
                assert isinstance(call["function"]["arguments"], dict)


# ------------------------------------------------------------------ every consumer follows the prompt rule

PROMPT = "Count the lines in notes.txt please"


def _turn_session(sid: str, with_prompt_step: bool) -> Any:
    """A session as a source records it (the prompt also as the first step) or as a gym rollout does
    (the prompt only in Turn.prompt)."""
    from bashgym.schema import Session, Step, Turn

    steps = [Step("message", "user", PROMPT)] if with_prompt_step else []
    steps += [Step("tool_call", tool_name="Bash", call_id="c1", input={"command": "wc -l notes.txt"},
                   output="2 notes.txt", exit_code=0),
              Step("message", "assistant", "It has 2 lines.")]
    return Session(id=sid, source="claude_code", turns=[Turn(0, PROMPT, steps, started_at="2026-11-01T10:00:00Z")],
                   started_at="2026-11-01T10:00:00Z")


def _messages_text(store: Store, sid: str) -> str:
    from bashgym.factory.formats import to_messages
    from bashgym.factory.select import load_example

    cfg = _config("messages", "claude_code").shape
    return json.dumps(to_messages(load_example(store, sid), cfg))


def _ui_text(store: Store, sid: str) -> str:
    from fastapi.testclient import TestClient

    from bashgym.ui.app import create_app

    page = TestClient(create_app(store.path)).get(f"/sessions/{sid}").text
    return page[page.index('<section class="turn"'):]  # the timeline (the page title may quote the prompt)


def _show_text(store: Store, sid: str) -> str:
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "bashgym.cli", "sessions", "show", sid], capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": "200"}, check=True)
    return out.stdout


def _judge_llm_text(store: Store, sid: str) -> str:
    from bashgym.judge.llm import render_turn

    return render_turn(store.get_session(sid).turns[0])


CONSUMERS = {"messages": _messages_text, "ui": _ui_text, "sessions show": _show_text,
             "judge grader text": _judge_llm_text}


@pytest.mark.parametrize("with_prompt_step", [True, False], ids=["source-recorded", "prompt-only"])
@pytest.mark.parametrize("consumer", list(CONSUMERS))
def test_every_consumer_shows_the_prompt_exactly_once(store: Store, consumer: str, with_prompt_step: bool) -> None:
    from factory_sessions import save

    save(store, _turn_session("s-1", with_prompt_step))
    if consumer == "ui":
        pytest.importorskip("fastapi")
    text = CONSUMERS[consumer](store, "s-1")
    assert text.count(PROMPT) == 1, text


def test_judge_signals_count_the_same_turn_the_same_whichever_source_recorded_it(store: Store) -> None:
    from bashgym.judge.signals import turn_signals

    a, b = (turn_signals(_turn_session("x", flag).turns[0]) for flag in (True, False))
    assert {k: s.value for k, s in a.items()} == {k: s.value for k, s in b.items()}
    assert a["turn_size"].value == 2


@pytest.mark.parametrize("source", SOURCES)
def test_preference_rows_split_the_conversation_after_its_single_prompt(recorded: Store, source: str) -> None:
    """DPO and KTO rows: `prompt` is the request once; chosen/rejected/completion are what followed it."""
    from bashgym.factory.formats import prompt_and_completion, to_messages
    from bashgym.factory.select import load_example

    cfg = _config("dpo", source).shape
    for sid in recorded.iter_session_ids(parent=""):
        ex = load_example(recorded, sid)
        if ex.session.source != source or not ex.session.steps:
            continue
        ex.turns = ex.turns[:1]
        prompt, completion = prompt_and_completion(ex, cfg)
        assert prompt == [{"role": "user", "content": ex.turns[0].prompt}]
        assert completion and completion[0]["role"] == "assistant"
        assert prompt + completion == to_messages(ex, cfg)
        assert all(m.get("content") != ex.turns[0].prompt for m in completion)
