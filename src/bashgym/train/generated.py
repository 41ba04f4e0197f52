"""Which completion tokens the policy writes, for the preference losses (DPO, KTO).

A bashgym completion is a stretch of an agent session: assistant replies and tool calls, but also the tool
results (and any later user message) between them. TRL scores every completion token, so part of a margin
would come from command outputs the policy never writes. The chat template's `{% generation %}` tags mark
what the model generates (assistant text, tool calls, end-of-turn); the trainers keep only those tokens in
the loss's completion mask.
"""

from __future__ import annotations

from typing import Any

import orjson

from bashgym.errors import ConfigError
from bashgym.train.config import TrainSpec


def generation_template(tokenizer: Any, spec: TrainSpec, ds: Any, keys: tuple[str, ...]) -> str | None:
    """The chat template that marks generated tokens, or None when no mask is needed (plain-text completions,
    or completions of assistant messages only). A template without the marks is an error only when some
    completion (column in `keys`) holds tool results or user turns that would otherwise be scored."""
    if "prompt" not in ds.column_names or len(ds) == 0 or not isinstance(ds[0]["prompt"], list):
        return None
    template = tokenizer.chat_template or ""
    if "generation" in template and "endgeneration" in template:
        return template
    from trl.chat_template_utils import get_training_chat_template

    try:
        return get_training_chat_template(tokenizer)
    except ValueError:
        pass
    if all(m.get("role") == "assistant" for key in keys for row in ds[key] for m in row):
        return None  # assistant messages only: every completion token is generated anyway
    raise ConfigError(
        f"the completions in this dataset hold tool results or user turns, and the chat template of "
        f"{spec.base_model} has no {{% generation %}} tags (and TRL has no training version of it), so "
        f"`bashgym train {spec.kind}` cannot leave them out of the loss: set chat_template_path in {spec.source} to "
        "a template with the tags"
    )


def generated_mask(tokenizer: Any, template: str, example: dict[str, Any], key: str, ids: list[int]) -> list[int]:
    """Per token of `ids` (the tokenized completion `example[key]`, after `example["prompt_ids"]`): 1 where the
    policy writes it."""
    tools = example.get("tools")
    tools = orjson.loads(tools) if isinstance(tools, str) and tools.strip() else (tools or None)
    rendered = tokenizer.apply_chat_template(
        example["prompt"] + example[key], tools=tools, chat_template=template, tokenize=True, return_dict=True,
        return_assistant_tokens_mask=True)
    start = len(example["prompt_ids"])
    if rendered["input_ids"][start:start + len(ids)] != ids:
        raise ConfigError("the chat template's training version renders a row differently from the template itself; "
                          "set chat_template_path to one template with {% generation %} tags")
    return list(rendered["assistant_masks"][start:start + len(ids)])


def pad_masks(masks: list[list[int]], like: Any, max_length: int | None, keep_end: bool = False) -> Any:
    """Masks laid out exactly as TRL laid out the sequences: truncated, right-padded to `like`'s width."""
    import torch

    if max_length is not None:
        masks = [m[-max_length:] if keep_end else m[:max_length] for m in masks]
    out = torch.zeros_like(like)
    for i, m in enumerate(masks):
        out[i, : len(m)] = torch.tensor(m, dtype=like.dtype)
    return out
