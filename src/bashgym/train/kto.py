"""Unpaired preference tuning: TRL's KTOTrainer + a PEFT LoRA on `prompt` / `completion` / `label` rows (the
factory's `kto` format: good turns labelled true, failed ones false).

As for DPO, the loss counts only the completion tokens the policy writes (`train/generated.py`), in the
matched completions and in the mismatched ones TRL uses to estimate the KL term alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bashgym.train.config import TrainSpec
from bashgym.train.data import TrainingData
from bashgym.train.dpo import set_pad_token
from bashgym.train.generated import generated_mask, generation_template, pad_masks

GENERATED = "completion_generated"
KL_GENERATED = "KL_completion_generated"


def make_trainer(
    spec: TrainSpec, model: Any, tokenizer: Any, args: Any, data: TrainingData, peft_config: Any,
    callbacks: list[Any],
) -> Any:
    from trl import KTOTrainer
    from trl.trainer.kto_trainer import DataCollatorForUnpairedPreference

    template = generation_template(tokenizer, spec, data.train, ("completion",))

    @dataclass
    class GeneratedTokensCollator(DataCollatorForUnpairedPreference):
        """TRL's collator, with each completion's mask cut down to the generated tokens."""

        def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
            out = super().torch_call(examples)
            if template is None:
                return out
            for prefix, column in (("", GENERATED), ("KL_", KL_GENERATED)):
                if f"{prefix}completion_mask" in out:
                    masks = [[0] * len(ex["prompt_ids"]) + ex[column] for ex in examples]
                    out[f"{prefix}completion_mask"] = pad_masks(masks, out[f"{prefix}completion_mask"], self.max_length)
            return out

    class GeneratedTokensKTOTrainer(KTOTrainer):
        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if template is None:
                return dataset

            def mark(example: dict[str, Any]) -> dict[str, list[int]]:
                return {GENERATED: generated_mask(processing_class, template, example, "completion",
                                                  example["completion_ids"])}

            dataset = dataset.map(mark, desc=f"Marking generated tokens of {dataset_name} dataset")
            if "KL_completion_ids" in dataset.column_names:  # rotated exactly as TRL rotated the completions
                def rotate(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
                    return {KL_GENERATED: [batch[GENERATED][-1], *batch[GENERATED][:-1]]}

                dataset = dataset.map(rotate, batched=True, batch_size=args.per_device_train_batch_size,
                                      num_proc=args.dataset_num_proc)
            return dataset

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            if template is not None and self._signature_columns is not None:
                self._signature_columns = [*self._signature_columns, GENERATED, KL_GENERATED]

    set_pad_token(model, tokenizer)
    collator = GeneratedTokensCollator(pad_token_id=tokenizer.pad_token_id, max_length=args.max_length,
                                       pad_to_multiple_of=args.pad_to_multiple_of)
    return GeneratedTokensKTOTrainer(
        model=model, args=args, data_collator=collator, train_dataset=data.train, eval_dataset=data.eval,
        processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
    )
