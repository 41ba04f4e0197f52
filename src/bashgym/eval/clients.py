"""Model clients the agent loop talks to: an OpenAI-compatible HTTP endpoint or a local transformers model.

Both answer `chat(messages, tools=...) -> Reply` with the same shape, so the agent loop never knows which
one it drives. An endpoint that rejects the `tools` field (older llama.cpp builds, some proxies) is switched
to the fenced-bash protocol: the command is the ```bash block of the reply.

Failures of the infrastructure (connection refused, 5xx after retries, a body that is not a completion)
raise `InfraError`: the runner records such a rollout as "no score" and retries it, never as a 0.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bashgym.errors import NotFoundError, choice_error
from bashgym.gym.protocol import (  # the protocol the gym speaks
    BASH_TOOL,
    TOOL_CALL_TAG,
    InfraError,
    ToolCall,
    fenced_bash,
    tagged_tool_calls,
)

TOOL_MODES = ("auto", "native", "fenced")


@dataclass(slots=True)
class Reply:
    """What a model said: text, tool calls (possibly parsed from fenced blocks), and token counts."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    fenced: bool = False


class ChatClient(Protocol):
    model: str
    tool_mode: str

    def chat(self, messages: list[dict[str, Any]], *, seed: int | None = None) -> Reply: ...


def check_tool_mode(mode: str) -> str:
    if mode not in TOOL_MODES:
        raise choice_error("--tool-mode", mode, TOOL_MODES)
    return mode


# ------------------------------------------------------------------------------------------ HTTP endpoint


def chat_completions_url(base_url: str) -> str:
    """The chat-completions URL for a base URL given with or without `/v1` (vLLM, llama.cpp, Ollama, OpenAI).

    >>> chat_completions_url("http://127.0.0.1:8000")
    'http://127.0.0.1:8000/v1/chat/completions'
    >>> chat_completions_url("https://api.openai.com/v1/")
    'https://api.openai.com/v1/chat/completions'
    """
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if re.search(r"/v\d+[a-z]*$", url) or url.endswith("/openai"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


class OpenAIClient:
    """Chat completions over HTTP with retries on transient failures (connection, 429, 5xx).

    `tool_mode="auto"` sends the `bash` tool and falls back to fenced blocks for good when the endpoint
    answers 400/422 to a request with tools; "native" never falls back; "fenced" never sends tools.
    """

    def __init__(
        self, base_url: str, model: str, *, api_key: str | None = None, tool_mode: str = "auto",
        temperature: float = 0.7, max_tokens: int = 1024, timeout_s: float = 120.0, retries: int = 3,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        from bashgym.errors import require

        require("httpx", "gym")
        import httpx

        self.url = chat_completions_url(base_url)
        self.model = model
        self.tool_mode = check_tool_mode(tool_mode)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.retries = retries
        self.extra_body = dict(extra_body or {})
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._timeout_s = timeout_s
        self._http = httpx.Client(timeout=timeout_s, headers=self._headers)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __getstate__(self) -> dict[str, Any]:
        """The settings without the connection: a copy in another process (a Ray worker) opens its own."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_http", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import httpx

        self.__dict__.update(state)
        self._http = httpx.Client(timeout=self._timeout_s, headers=self._headers)
        self._lock = threading.Lock()

    def _body(self, messages: list[dict[str, Any]], seed: int | None, with_tools: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages if with_tools else to_plain_messages(messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.extra_body,
        }
        if seed is not None:
            body["seed"] = seed
        if with_tools:
            body["tools"] = [BASH_TOOL]
        return body

    def chat(self, messages: list[dict[str, Any]], *, seed: int | None = None) -> Reply:
        with_tools = self.tool_mode != "fenced"
        response = self._post(self._body(messages, seed, with_tools))
        if with_tools and self.tool_mode == "auto" and response.status_code in (400, 422):
            with self._lock:
                self.tool_mode = "fenced"
            response = self._post(self._body(messages, seed, False))
            with_tools = False
        if response.status_code >= 400:
            raise InfraError(f"{self.url} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise InfraError(f"{self.url} returned no chat completion: {response.text[:300]}") from exc
        usage = data.get("usage") or {}
        reply = Reply(
            text=message.get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            args = fn.get("arguments")
            reply.tool_calls.append(
                ToolCall(
                    name=fn.get("name") or "",
                    arguments=args if isinstance(args, str) else json.dumps(args or {}),
                    id=call.get("id") or "call_" + uuid.uuid4().hex[:12],
                )
            )
        if not with_tools:
            _fenced_to_call(reply)
        return reply

    def _post(self, body: dict[str, Any]) -> Any:
        import httpx

        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = self._http.post(self.url, json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            if attempt < self.retries:
                time.sleep(min(0.25 * 2**attempt, 4.0))
        raise InfraError(f"{self.url} failed after {self.retries + 1} tries: {last}")


def _fenced_to_call(reply: Reply) -> None:
    """In fenced mode, the reply's ```bash block is the command (a synthetic `bash` tool call)."""
    command = fenced_bash(reply.text)
    if command is not None:
        reply.tool_calls = [ToolCall(name="bash", arguments=json.dumps({"command": command}))]
        reply.fenced = True


def to_plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages for an endpoint without tools: tool calls become fenced blocks, tool results user turns."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "assistant" and m.get("tool_calls"):
            text = m.get("content") or ""
            if not fenced_bash(text):
                for call in m["tool_calls"]:
                    command = ToolCall(call["function"]["name"], call["function"]["arguments"]).command()
                    text += f"\n```bash\n{command or ''}\n```"
            out.append({"role": "assistant", "content": text.strip()})
        elif m["role"] == "tool":
            out.append({"role": "user", "content": f"Output:\n{m.get('content') or ''}"})
        else:
            out.append({"role": m["role"], "content": m.get("content") or ""})
    return out


# ------------------------------------------------------------------------------------------ local model


class LocalModelClient:
    """A transformers causal LM (optionally with a PEFT LoRA adapter) behind the same `chat` interface.

    The prompt is the tokenizer's chat template rendered with the `bash` tool; tool calls are read back
    from `<tool_call>{...}</tool_call>` tags (the Qwen/Hermes convention the tiny model's template uses), or
    from a fenced block in fenced mode. Generation is serialized: one model, many worker threads.
    """

    def __init__(
        self, model_path: str | Path, *, adapter: str | Path | None = None, tool_mode: str = "auto",
        temperature: float = 0.7, max_new_tokens: int = 256, device: str | None = None,
    ) -> None:
        from bashgym.errors import require

        require("torch", "train")
        require("transformers", "train")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path).expanduser()
        if not path.exists():
            raise NotFoundError(f"no local model at {path} (give a directory with config.json, or --base-url)")
        self.model = str(path) if adapter is None else f"{path}+{adapter}"
        self.tool_mode = check_tool_mode(tool_mode)
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path))
        if adapter is not None:
            require("peft", "train")
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        self.lm = model.to(self.device).eval()
        self._lock = threading.Lock()

    def close(self) -> None:
        pass

    def encode(self, messages: list[dict[str, Any]]) -> Any:
        """The prompt the model generates from: the chat template over `messages`, with the `bash` tool unless
        the client writes fenced blocks (the same rendering GRPO's gym episodes use; see docs/training.md)."""
        with_tools = self.tool_mode != "fenced"
        msgs = template_messages(messages) if with_tools else to_plain_messages(messages)
        return self.tokenizer.apply_chat_template(
            msgs, tools=[BASH_TOOL] if with_tools else None, add_generation_prompt=True,
            return_dict=True, return_tensors="pt",
        )

    def chat(self, messages: list[dict[str, Any]], *, seed: int | None = None) -> Reply:
        import torch

        with_tools = self.tool_mode != "fenced"
        try:
            enc = self.encode(messages)
        except Exception as exc:  # a template that cannot render tools: fall back to fenced blocks
            if not with_tools or self.tool_mode == "native":
                raise InfraError(f"chat template of {self.model} failed: {exc}") from exc
            self.tool_mode = "fenced"
            return self.chat(messages, seed=seed)
        input_ids = enc["input_ids"].to(self.device)
        attention = enc.get("attention_mask")
        with self._lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            out = self.lm.generate(
                input_ids=input_ids,
                attention_mask=attention.to(self.device) if attention is not None else None,
                max_new_tokens=self.max_new_tokens,
                do_sample=self.temperature > 0,
                temperature=self.temperature if self.temperature > 0 else None,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        new = out[0, input_ids.shape[1]:]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        reply = Reply(
            text=text, prompt_tokens=int(input_ids.shape[1]), completion_tokens=int(new.shape[0]),
            finish_reason="length" if new.shape[0] >= self.max_new_tokens else "stop",
        )
        if with_tools:
            reply.tool_calls = tagged_tool_calls(text)
            if reply.tool_calls:
                reply.text = TOOL_CALL_TAG.sub("", text).strip()
        else:
            _fenced_to_call(reply)
        return reply


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages for a local chat template: tool-call arguments as dicts (templates `tojson` them)."""
    out = []
    for m in messages:
        if m.get("tool_calls"):
            m = dict(m)
            calls = []
            for call in m["tool_calls"]:
                fn = dict(call["function"])
                if isinstance(fn.get("arguments"), str):
                    try:
                        fn["arguments"] = json.loads(fn["arguments"])
                    except json.JSONDecodeError:
                        pass
                calls.append({**call, "function": fn})
            m["tool_calls"] = calls
        out.append(m)
    return out


def resolve_adapter(adapter: str, store: Any | None = None) -> tuple[Path, str | None]:
    """An adapter given as a train run id (looked up in the runs table) or a directory path.

    Returns (adapter directory, run id or None). A run's adapter is its recorded metrics["adapter_dir"],
    else the folder under its output_dir that holds adapter_config.json (adapter/, final/ or itself).
    """
    run = None
    if store is not None and hasattr(store, "get_run"):
        try:
            run = store.get_run(adapter)
        except NotFoundError:
            run = None
    if run is not None and (run.get("output_dir") or (run.get("metrics") or {}).get("adapter_dir")):
        recorded = (run.get("metrics") or {}).get("adapter_dir")
        out = Path(run.get("output_dir") or recorded)
        candidates = [Path(recorded)] if recorded else []
        for candidate in (*candidates, out / "adapter", out / "final", out):
            if (candidate / "adapter_config.json").exists():
                return candidate, run["id"]
        raise NotFoundError(f"run {run['id']!r} has no adapter_config.json under {out}")
    path = Path(adapter).expanduser()
    if (path / "adapter_config.json").exists():
        return path.resolve(), None
    raise NotFoundError(
        f"adapter {adapter!r} is neither a train run id (see `bashgym runs`) nor a directory with "
        "adapter_config.json"
    )
