"""Supervised fine-tuning: TRL's SFTTrainer + a PEFT LoRA on `messages` (+ `tools`) conversations.

With `assistant_only_loss` (bashgym's default) only the assistant's tokens — tool calls, replies and the
end-of-turn token — are trained; the chat template's `{% generation %}` tags mark them.
"""

from __future__ import annotations

from typing import Any

from bashgym.train.config import TrainSpec
from bashgym.train.data import TrainingData


def make_trainer(
    spec: TrainSpec, model: Any, tokenizer: Any, args: Any, data: TrainingData, peft_config: Any,
    callbacks: list[Any],
) -> Any:
    from trl import SFTTrainer

    if "messages" not in data.train.column_names and args.assistant_only_loss:
        args.assistant_only_loss = False  # prompt/completion or text data: TRL masks the prompt itself
    return SFTTrainer(
        model=model, args=args, train_dataset=data.train, eval_dataset=data.eval, processing_class=tokenizer,
        peft_config=peft_config, callbacks=callbacks,
    )
