"""Preference tuning: TRL's DPOTrainer + a PEFT LoRA on `prompt` / `chosen` / `rejected` pairs.

With a LoRA the reference model is the base model with the adapter switched off, so no second copy of the
weights is loaded.

A bashgym completion is a stretch of an agent session: assistant replies and tool calls, but also the tool
results (and any later user message) between them. TRL scores every completion token, so a pair's margin
would partly come from command outputs the policy never writes. Here the loss counts only the tokens the
chat template marks as generated (`{% generation %}`): the assistant's text, its tool calls and its
end-of-turn tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from bashgym.errors import ConfigError
from bashgym.train.config import TrainSpec
from bashgym.train.data import TrainingData

GENERATED_COLUMNS = ("chosen_generated", "rejected_generated")


def make_trainer(
    spec: TrainSpec, model: Any, tokenizer: Any, args: Any, data: TrainingData, peft_config: Any,
    callbacks: list[Any],
) -> Any:
    from trl import DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    template = generation_template(tokenizer, spec, data.train)

    @dataclass
    class GeneratedTokensCollator(DataCollatorForPreference):
        """TRL's collator, with each completion's mask cut down to the generated tokens."""

        def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
            out = super().torch_call(examples)
            if template is None:
                return out
            masks = [[0] * len(ex["prompt_ids"]) + ex[key] for key in GENERATED_COLUMNS for ex in examples]
            out["completion_mask"] = _pad_masks(masks, out["completion_mask"], self.max_length, self.truncation_mode)
            return out

    class GeneratedTokensDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if template is None:
                return dataset
            return dataset.map(generated_masks, fn_kwargs={"tokenizer": processing_class, "template": template},
                               desc=f"Marking generated tokens of {dataset_name} dataset")

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            if template is not None and self._signature_columns is not None:
                self._signature_columns = [*self._signature_columns, *GENERATED_COLUMNS]

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.get_text_config().pad_token_id = tokenizer.pad_token_id  # what TRL does for its own collator
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    collator = GeneratedTokensCollator(pad_token_id=tokenizer.pad_token_id, max_length=args.max_length,
                                       truncation_mode=args.truncation_mode, pad_to_multiple_of=args.pad_to_multiple_of)
    return GeneratedTokensDPOTrainer(
        model=model, args=args, data_collator=collator, train_dataset=data.train, eval_dataset=data.eval,
        processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
    )


def generation_template(tokenizer: Any, spec: TrainSpec, ds: Any) -> str | None:
    """The chat template that marks generated tokens, or None when the completions are plain text (then every
    completion token is the policy's). A template without the marks is an error only when some completion
    holds tool results or user turns that would otherwise be scored."""
    if "prompt" not in ds.column_names or not isinstance(ds[0]["prompt"], list):
        return None
    template = tokenizer.chat_template or ""
    if "generation" in template and "endgeneration" in template:
        return template
    from trl.chat_template_utils import get_training_chat_template

    try:
        return get_training_chat_template(tokenizer)
    except ValueError:
        pass
    if all(m.get("role") == "assistant" for key in ("chosen", "rejected") for row in ds[key] for m in row):
        return None  # assistant messages only: every completion token is generated anyway
    raise ConfigError(
        f"the completions in this dataset hold tool results or user turns, and the chat template of "
        f"{spec.base_model} has no {{% generation %}} tags (and TRL has no training version of it), so DPO cannot "
        f"leave them out of the loss: set chat_template_path in {spec.source} to a template with the tags"
    )


def generated_masks(example: dict[str, Any], tokenizer: Any, template: str) -> dict[str, list[int]]:
    """Per completion token: 1 where the policy writes it (inside the template's generation tags)."""
    tools = example.get("tools")
    tools = orjson.loads(tools) if isinstance(tools, str) and tools.strip() else (tools or None)
    out = {}
    for key, column in zip(("chosen", "rejected"), GENERATED_COLUMNS, strict=True):
        rendered = tokenizer.apply_chat_template(
            example["prompt"] + example[key], tools=tools, chat_template=template, tokenize=True, return_dict=True,
            return_assistant_tokens_mask=True)
        start = len(example["prompt_ids"])
        ids = example[f"{key}_ids"]
        if rendered["input_ids"][start:start + len(ids)] != ids:
            raise ConfigError("the chat template's training version renders a pair differently from the template "
                              "itself; set chat_template_path to one template with {% generation %} tags")
        out[column] = list(rendered["assistant_masks"][start:start + len(ids)])
    return out


def _pad_masks(masks: list[list[int]], like: Any, max_length: int | None, truncation_mode: str) -> Any:
    """Masks laid out exactly as TRL laid out the sequences: truncated, right-padded to `like`'s width."""
    import torch

    if max_length is not None:
        masks = [m[:max_length] if truncation_mode == "keep_start" else m[-max_length:] for m in masks]
    out = torch.zeros_like(like)
    for i, m in enumerate(masks):
        out[i, : len(m)] = torch.tensor(m, dtype=like.dtype)
    return out
