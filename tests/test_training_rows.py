"""Training rows as chat templates see them: tool-call arguments are objects, each tool keeps its own keys."""

from __future__ import annotations

import json
from pathlib import Path

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
