"""Preference tuning: TRL's DPOTrainer + a PEFT LoRA on `prompt` / `chosen` / `rejected` pairs.

With a LoRA the reference model is the base model with the adapter switched off, so no second copy of the
weights is loaded.
"""

from __future__ import annotations

from typing import Any

from bashgym.train.config import TrainSpec
from bashgym.train.data import TrainingData


def make_trainer(
    spec: TrainSpec, model: Any, tokenizer: Any, args: Any, data: TrainingData, peft_config: Any,
    callbacks: list[Any],
) -> Any:
    from trl import DPOTrainer

    return DPOTrainer(
        model=model, args=args, train_dataset=data.train, eval_dataset=data.eval, processing_class=tokenizer,
        peft_config=peft_config, callbacks=callbacks,
    )
