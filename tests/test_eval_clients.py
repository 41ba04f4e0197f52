"""Eval clients and pass@k against real components: a scripted OpenAI-compatible server on 127.0.0.1 and
the tiny locally built model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bashgym.errors import NotFoundError
from bashgym.eval.clients import (
    InfraError,
    LocalModelClient,
    OpenAIClient,
    chat_completions_url,
    fenced_bash,
    resolve_adapter,
    tagged_tool_calls,
)
from bashgym.eval.metrics import pass_at_k, summarize
from harness.openai_server import ScriptedOpenAIServer, bash_call, say

MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "list the files"}]


def test_pass_at_k_matches_hand_computed_values() -> None:
    # n=5 samples, c=2 correct: pass@1 = 2/5; pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10; pass@3 = 1 - 1/10.
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(5, 2, 3) == pytest.approx(0.9)
    assert pass_at_k(5, 2, 4) == 1.0 and pass_at_k(5, 0, 5) == 0.0 and pass_at_k(5, 5, 1) == 1.0
    # n < k (some samples got no score): k clamps to n
    assert pass_at_k(2, 1, 5) == 1.0 and pass_at_k(2, 0, 5) == 0.0


def test_summarize_leaves_errors_out_of_n_and_groups_by_category() -> None:
    rows = [{"task_id": "a", "category": "files", "status": "passed"}] * 2 + [
        {"task_id": "b", "category": "git", "status": "failed"},
        {"task_id": "b", "category": "git", "status": "passed"},
        {"task_id": "b", "category": "git", "status": "error"},
        {"task_id": "c", "category": "git", "status": "error"},
    ]
    s = summarize(rows, k=2)
    by_task = {t["task_id"]: t for t in s["tasks"]}
    assert (by_task["b"]["n"], by_task["b"]["c"], by_task["b"]["errors"]) == (2, 1, 1)
    assert by_task["b"]["pass@1"] == pytest.approx(0.5) and by_task["b"]["pass@2"] == 1.0
    assert by_task["c"]["pass@1"] is None  # no score at all: not a 0
    assert s["categories"]["git"]["scored_tasks"] == 1 and s["categories"]["git"]["pass@1"] == pytest.approx(0.5)
    assert s["overall"]["pass@1"] == pytest.approx(0.75) and s["overall"]["errors"] == 2


def test_url_and_reply_parsing_helpers() -> None:
    assert chat_completions_url("http://h:1/v1") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h:11434") == "http://h:11434/v1/chat/completions"
    assert fenced_bash("no code here") is None
    assert fenced_bash("run:\n```sh\ncat a.txt | wc -l\n```\nthen done") == "cat a.txt | wc -l"
    calls = tagged_tool_calls('x<tool_call>\n{"name": "bash", "arguments": {"command": "git status"}}\n</tool_call>')
    assert [(c.name, c.command()) for c in calls] == [("bash", "git status")]
    assert tagged_tool_calls("<tool_call>not json</tool_call>") == []


def test_openai_client_reads_tool_calls_and_token_usage() -> None:
    with ScriptedOpenAIServer(lambda body: bash_call("ls -la")) as server:
        client = OpenAIClient(server.url, "scripted", temperature=0.5)
        reply = client.chat(MESSAGES, seed=7)
    assert [c.command() for c in reply.tool_calls] == ["ls -la"]
    assert (reply.prompt_tokens, reply.completion_tokens) == (100, 10)
    body = server.requests[0]
    assert body["tools"][0]["function"]["name"] == "bash" and body["seed"] == 7 and body["model"] == "scripted"


def test_client_without_tool_support_falls_back_to_fenced_bash() -> None:
    with ScriptedOpenAIServer(lambda body: say("I'll check.\n```bash\nwc -l notes.txt\n```"),
                              tools_supported=False) as server:
        client = OpenAIClient(server.url, "plain")
        first = client.chat(MESSAGES)
        second = client.chat(MESSAGES)
    assert first.fenced and [c.command() for c in first.tool_calls] == ["wc -l notes.txt"]
    assert client.tool_mode == "fenced" and second.tool_calls
    # one rejected request with tools, then every request goes without them
    assert ["tools" in r for r in server.requests] == [True, False, False]


def test_fenced_mode_sends_prior_tool_calls_as_code_blocks() -> None:
    history = MESSAGES + [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "pwd"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "bash", "content": "/app"},
    ]
    with ScriptedOpenAIServer(lambda body: say("done")) as server:
        reply = OpenAIClient(server.url, "m", tool_mode="fenced").chat(history)
    sent = server.requests[0]["messages"]
    assert reply.tool_calls == [] and "tools" not in server.requests[0]
    assert sent[2] == {"role": "assistant", "content": "```bash\npwd\n```"}
    assert sent[3] == {"role": "user", "content": "Output:\n/app"}


def test_server_errors_are_retried_then_raised_as_infra_error() -> None:
    with ScriptedOpenAIServer(lambda body: (503, "overloaded")) as server:
        client = OpenAIClient(server.url, "m", retries=2)
        with pytest.raises(InfraError, match="503"):
            client.chat(MESSAGES)
    assert len(server.requests) == 3


def test_unreachable_endpoint_is_an_infra_error() -> None:
    client = OpenAIClient("http://127.0.0.1:9/v1", "m", retries=0, timeout_s=2)
    with pytest.raises(InfraError, match="failed after 1 tries"):
        client.chat(MESSAGES)


def test_local_tiny_model_renders_tools_and_generates(tiny_model: Path) -> None:
    client = LocalModelClient(tiny_model, max_new_tokens=8, temperature=0.0)
    reply = client.chat(MESSAGES)
    assert reply.prompt_tokens > 20 and 0 < reply.completion_tokens <= 8
    assert isinstance(reply.text, str)


def test_adapter_is_resolved_from_a_path_or_named_with_what_to_do(tmp_path: Path, store) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    assert resolve_adapter(str(tmp_path), store) == (tmp_path.resolve(), None)
    with pytest.raises(NotFoundError, match="bashgym runs"):
        resolve_adapter("no-such-run", store)


@pytest.fixture()
def tiny_model() -> Path:
    from harness.tiny_model import tiny_model_dir

    return tiny_model_dir()
