"""Supervised fine-tuning: TRL's SFTTrainer + a PEFT LoRA on `messages` (+ `tools`) conversations.

With `assistant_only_loss` (bashgym's default) only the assistant's tokens — tool calls, replies and the
end-of-turn token — are trained; the chat template's `{% generation %}` tags mark them.
"""

from __future__ import annotations

from typing import Any

from bashgym.errors import ConfigError
from bashgym.train.config import TrainSpec
from bashgym.train.data import TrainingData


def make_trainer(
    spec: TrainSpec, model: Any, tokenizer: Any, args: Any, data: TrainingData, peft_config: Any,
    callbacks: list[Any],
) -> Any:
    from trl import SFTTrainer

    if "messages" not in data.train.column_names and args.assistant_only_loss:
        args.assistant_only_loss = False  # prompt/completion or text data: TRL masks the prompt itself
    if args.assistant_only_loss and not args.chat_template_path:
        check_trainable_template(tokenizer, spec)
    return SFTTrainer(
        model=model, args=args, train_dataset=data.train, eval_dataset=data.eval, processing_class=tokenizer,
        peft_config=peft_config, callbacks=callbacks,
    )


def check_trainable_template(tokenizer: Any, spec: TrainSpec) -> None:
    """assistant_only_loss needs `{% generation %}` tags: the model's own, or TRL's training version of a
    template it knows. Otherwise say what to do, before TRL fails deep inside."""
    from trl.chat_template_utils import get_training_chat_template

    if not tokenizer.chat_template:
        raise ConfigError(f"{spec.base_model} has no chat template; set chat_template_path in {spec.source}")
    try:
        get_training_chat_template(tokenizer)
    except ValueError:
        raise ConfigError(
            f"the chat template of {spec.base_model} has no {{% generation %}} tags and TRL has no training version "
            f"of it, so assistant-only loss cannot find the assistant's tokens: set assistant_only_loss: false in "
            f"{spec.source} (train on whole conversations) or chat_template_path: a template with the tags"
        ) from None
