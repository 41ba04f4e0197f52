"""Preference tuning: TRL's DPOTrainer + a PEFT LoRA on `prompt` / `chosen` / `rejected` pairs.

With a LoRA the reference model is the base model with the adapter switched off, so no second copy of the
weights is loaded. The loss counts only the completion tokens the policy writes (`train/generated.py`):
assistant text, tool calls and end-of-turn, not the tool results inside an agent's completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bashgym.train.config import TrainSpec
from bashgym.train.data import TrainingData
from bashgym.train.generated import generated_mask, generation_template, pad_masks

GENERATED_COLUMNS = {"chosen": "chosen_generated", "rejected": "rejected_generated"}


def make_trainer(
    spec: TrainSpec, model: Any, tokenizer: Any, args: Any, data: TrainingData, peft_config: Any,
    callbacks: list[Any],
) -> Any:
    from trl import DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    template = generation_template(tokenizer, spec, data.train, tuple(GENERATED_COLUMNS))

    @dataclass
    class GeneratedTokensCollator(DataCollatorForPreference):
        """TRL's collator, with each completion's mask cut down to the generated tokens."""

        def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
            out = super().torch_call(examples)
            if template is not None:  # TRL's layout: every chosen sequence, then every rejected one
                masks = [[0] * len(ex["prompt_ids"]) + ex[col] for col in GENERATED_COLUMNS.values() for ex in examples]
                out["completion_mask"] = pad_masks(masks, out["completion_mask"], self.max_length,
                                                   keep_end=self.truncation_mode == "keep_end")
            return out

    class GeneratedTokensDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if template is None:
                return dataset

            def mark(example: dict[str, Any]) -> dict[str, list[int]]:
                return {col: generated_mask(processing_class, template, example, key, example[f"{key}_ids"])
                        for key, col in GENERATED_COLUMNS.items()}

            return dataset.map(mark, desc=f"Marking generated tokens of {dataset_name} dataset")

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            if template is not None and self._signature_columns is not None:
                self._signature_columns = [*self._signature_columns, *GENERATED_COLUMNS.values()]

    set_pad_token(model, tokenizer)
    collator = GeneratedTokensCollator(pad_token_id=tokenizer.pad_token_id, max_length=args.max_length,
                                       truncation_mode=args.truncation_mode, pad_to_multiple_of=args.pad_to_multiple_of)
    return GeneratedTokensDPOTrainer(
        model=model, args=args, data_collator=collator, train_dataset=data.train, eval_dataset=data.eval,
        processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
    )


def set_pad_token(model: Any, tokenizer: Any) -> None:
    """What TRL does before building its own collator (bashgym passes one): a pad token, mirrored on the model."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
