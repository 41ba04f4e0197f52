"""`messages` rows with tools, rendered through the chat templates of the model families people train.

The templates are the models' own (tests/fixtures/chat_templates/<family>/chat_template.jinja, with the
tokenizer_config.json fields they use); assistant-only loss uses TRL's training version where TRL has one
(as bashgym's SFT does) and otherwise the committed training.jinja (the original with `{% generation %}`
tags). The text is tokenized by the tiny local tokenizer with each family's special tokens added, so nothing is
downloaded. Rows come from sessions recorded by the real CLIs (see recorded_sessions.py).

Families: Qwen2.5, Llama 3.1, Mistral v0.3 and Gemma 4 render tool rows (Gemma 4's mask is not checked: TRL
has no training version of its template yet); Gemma 3 has no tool role and SmolLM2's template drops tool calls,
which the tests below state so that nobody trains those on tool rows unawares.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bashgym.store import Store

pytest.importorskip("transformers")

TEMPLATES = Path(__file__).parent / "fixtures" / "chat_templates"
SEQUENTIAL = "89af59f7-9bda-46ab-a250-7a4ecea81100"  # Claude Code: text + thinking, then Bash, Read, Edit, Bash
PARALLEL = "9eb98908-091a-4b37-89d0-4f2639c6643f"  # Gemini: four calls in one model message, then two turns


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from bashgym.factory.build import run_pipeline
    from bashgym.factory.config import DatasetConfig
    from bashgym.factory.write import public
    from bashgym.train.data import load_training_data
    from recorded_sessions import recorded_store

    tmp = tmp_path_factory.mktemp("templates")
    store: Store = recorded_store(tmp)
    cfg = DatasetConfig.model_validate({"name": "t", "segment": {"mode": "session"},
                                        "dedup": {"exact": False, "near": False}, "decontaminate": {"enabled": False},
                                        "select": {"sessions": [SEQUENTIAL, PARALLEL]}})
    made, _ = run_pipeline(store, cfg, redact=False)
    # as the trainer gets them: train.jsonl read by bashgym's training loader (the Arrow dataset TRL tokenizes)
    (tmp / "rows").mkdir()
    (tmp / "rows" / "train.jsonl").write_text("".join(json.dumps(public(r)) + "\n" for r in made))
    loaded = load_training_data(str(tmp / "rows"), store, "sft").train
    store.close()
    return {r["session_id"]: r for r in loaded}


def tokenizer(family: str) -> Any:
    from transformers import AutoTokenizer

    from harness.tiny_model import tiny_model_dir

    cfg = json.loads((TEMPLATES / family / "tokenizer_config.json").read_text())
    tok = AutoTokenizer.from_pretrained(tiny_model_dir())
    tok.add_special_tokens({"additional_special_tokens": cfg["additional_special_tokens"]})
    tok.bos_token, tok.eos_token = cfg["bos_token"], cfg["eos_token"]
    tok.chat_template = (TEMPLATES / family / "chat_template.jinja").read_text()
    return tok


def training_template(family: str, tok: Any) -> str:
    """The template assistant-only loss uses: TRL's training version of the original, else ours."""
    from trl.chat_template_utils import get_training_chat_template

    own = TEMPLATES / family / "training.jinja"
    return own.read_text() if own.exists() else get_training_chat_template(tok)


def nine_char_ids(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The row with call ids rewritten to the 9 alphanumerics Mistral's template demands, consistently."""
    ids: dict[str, str] = {}

    def short(cid: str) -> str:
        return ids.setdefault(cid, f"c{len(ids):08d}")

    out = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "id": short(c["id"])} for c in m["tool_calls"]]
        if m.get("tool_call_id"):
            m["tool_call_id"] = short(m["tool_call_id"])
        out.append(m)
    return out


def _json_call(call: dict[str, Any]) -> str:
    return json.dumps(call["function"]["arguments"], ensure_ascii=False)


def _gemma4_call(call: dict[str, Any]) -> str:
    first = next(iter(sorted(call["function"]["arguments"])), "")
    return f"<|tool_call>call:{call['function']['name']}{{{first}:"  # an object: its keys, unquoted


# family → (the role header a tool result sits under, how the result is shown, how a call is shown)
RESULT_ROLE = {
    "qwen2_5": ("<|im_start|>user", lambda m: f"<tool_response>\n{m['content']}\n</tool_response>", _json_call),
    "llama3_1": ("<|start_header_id|>ipython<|end_header_id|>",
                 lambda m: json.dumps(m["content"], ensure_ascii=False), _json_call),
    "mistral_v0_3": ("[TOOL_RESULTS]", lambda m: f'[TOOL_RESULTS] {{"content": {m["content"]}, ', _json_call),
    # Gemma 4 puts results inside the model's turn, as the response of the call they answer
    "gemma4": ("<|turn>model", lambda m: f"<|tool_response>response:{m['name']}{{value:<|\"|>{m['content']}<|\"|>}}",
               _gemma4_call),
}
ROLE_HEADER = re.compile(r"<\|im_start\|>\w+|<\|start_header_id\|>\w+<\|end_header_id\|>|\[TOOL_RESULTS\]|\[INST\]|"
                         r"<\|turn>\w+")


def render(family: str, row: dict[str, Any], **kw: Any) -> Any:
    tok = tokenizer(family)
    messages = nine_char_ids(row["messages"]) if family == "mistral_v0_3" else row["messages"]
    return tok, messages, tok.apply_chat_template(messages, tools=row["tools"], **kw)


@pytest.mark.parametrize("session_id", [SEQUENTIAL, PARALLEL], ids=["sequential", "parallel"])
@pytest.mark.parametrize("family", list(RESULT_ROLE))
def test_each_turn_renders_once_with_results_in_the_templates_tool_role(rows: dict, family: str,
                                                                       session_id: str) -> None:
    row = rows[session_id]
    has_parallel = any(len(m.get("tool_calls") or []) > 1 for m in row["messages"])
    if family == "llama3_1" and has_parallel:
        # Llama 3.1's template refuses parallel calls outright: bashgym keeps them parallel, so say so loudly
        with pytest.raises(Exception, match="only supports single tool-calls"):
            render(family, row, tokenize=False)
        return
    _, messages, text = render(family, row, tokenize=False)
    for m in messages:
        if m["role"] == "user":
            assert text.count(m["content"]) == 1, m["content"]
        elif m["role"] == "assistant" and m["content"] and not m.get("tool_calls"):
            assert text.count(m["content"].strip()) == 1, m["content"]
        elif m["role"] == "tool" and m["content"]:
            header, shown, _ = RESULT_ROLE[family]
            at = text.find(shown(m))
            assert at >= 0 and text.count(shown(m)) == 1, m["content"]
            assert ROLE_HEADER.findall(text[:at + len(header) + 1])[-1] == header  # in the tool role it expects
        for call in m.get("tool_calls") or []:
            assert RESULT_ROLE[family][2](call) in text  # arguments rendered as an object
    assert not re.search(r'"(arguments|parameters)": "\{|<\|"\|>\{', text)  # never as an escaped JSON string


@pytest.mark.parametrize("family", ["qwen2_5", "llama3_1", "mistral_v0_3", "smollm2"])
def test_assistant_mask_covers_every_assistant_message_and_its_end_of_turn(rows: dict, family: str) -> None:
    row = rows[SEQUENTIAL]
    tok = tokenizer(family)
    messages = nine_char_ids(row["messages"]) if family == "mistral_v0_3" else row["messages"]
    out = tok.apply_chat_template(messages, tools=row["tools"], tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True, chat_template=training_template(family, tok))
    ids, mask = out["input_ids"], out["assistant_masks"]
    trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    end = json.loads((TEMPLATES / family / "tokenizer_config.json").read_text())["end_of_turn"]
    assistants = [m for m in messages if m["role"] == "assistant"]
    assert sum(mask) > 0
    assert trained.count(end) == len(assistants)  # every assistant message learns to stop
    for m in messages:
        if m["role"] in ("user", "tool") and len(m["content"]) > 8:
            assert m["content"] not in trained  # prompts and tool outputs are context, not targets
    if family != "smollm2":
        for m in assistants:
            for call in m.get("tool_calls") or []:
                assert call["function"]["name"] in trained


def test_mistral_refuses_ids_that_are_not_nine_alphanumerics(rows: dict) -> None:
    """Mistral v0.3 checks call ids: rows keep the agents' own ids (toolu_…), so they need mapping first."""
    tok = tokenizer("mistral_v0_3")
    with pytest.raises(Exception, match="length 9"):
        tok.apply_chat_template(rows[SEQUENTIAL]["messages"], tools=rows[SEQUENTIAL]["tools"], tokenize=False)


def test_gemma3_has_no_tool_role(rows: dict) -> None:
    """Gemma 3's template only alternates user/model turns: tool rows cannot be rendered with it."""
    tok = tokenizer("gemma3")
    with pytest.raises(Exception, match="roles must alternate"):
        tok.apply_chat_template(rows[SEQUENTIAL]["messages"], tools=rows[SEQUENTIAL]["tools"], tokenize=False)
    plain = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    out = tok.apply_chat_template(plain, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                  chat_template=training_template("gemma3", tok))
    trained = tok.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m])
    assert "hello" in trained and "<end_of_turn>" in trained


def test_smollm2_drops_tool_calls(rows: dict) -> None:
    """SmolLM2's template renders `content` only: a tool call's assistant message comes out empty."""
    _, messages, text = render("smollm2", rows[SEQUENTIAL], tokenize=False)
    names = {c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
    assert names and not any(f'"{n}"' in text for n in names)
    assert text.count("<|im_start|>tool\n") == sum(m["role"] == "tool" for m in messages)
