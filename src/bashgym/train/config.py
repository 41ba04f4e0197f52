"""train.yaml → a validated `TrainSpec`, then TRL's config dataclasses and PEFT's LoraConfig.

One flat YAML: bashgym's own keys (base_model, dataset, output_dir, gpu, reward_funcs, eval_split) sit
beside any field of the trainer's TRL config (SFTConfig / DPOConfig / GRPOConfig, which include every
`transformers.TrainingArguments` field), and a `lora:` mapping holds LoraConfig fields plus `load_in_4bit`
(QLoRA, CUDA only). A key that is none of these is an error naming it and the closest valid key.

    base_model: Qwen/Qwen2.5-0.5B-Instruct
    dataset: ds-mywork-v1
    lora: {r: 16, lora_alpha: 32, target_modules: all-linear}
    learning_rate: 2.0e-4
    max_steps: 200
    assistant_only_loss: true
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bashgym.errors import ConfigError, bad_value, choice_error, unknown_key_error

KINDS = ("sft", "dpo", "kto", "grpo")
GPU_CHOICES = ("auto", "cpu", "cuda")

# bashgym's own keys, with what they mean (TRL's fields are documented in TRL).
BASHGYM_KEYS: dict[str, str] = {
    "base_model": "hub id or local path of the model to adapt",
    "dataset": "bashgym dataset id (see `bashgym dataset list`) or a path to .jsonl/.parquet/a dataset dir",
    "output_dir": "where checkpoints, the adapter and the loss curve go (default $BASHGYM_HOME/runs/<run id>)",
    "gpu": "auto | cpu | cuda",
    "reward_funcs": 'GRPO reward functions as "module:function" strings',
    "eval_split": "dataset split evaluated at the end of training (default: validation when present)",
    "lora": "LoraConfig fields, plus load_in_4bit for QLoRA",
}
# An example value of each of bashgym's keys, for docs/reference/train.md.
KEY_EXAMPLES: dict[str, Any] = {
    "base_model": "Qwen/Qwen2.5-Coder-0.5B-Instruct", "dataset": "ds-mywork-v1", "output_dir": "runs/sft-first",
    "gpu": "auto", "reward_funcs": ["bashgym.gym.rewards:bash_task_reward"], "eval_split": "validation",
    "lora": {"r": 16, "lora_alpha": 32, "target_modules": "all-linear"},
}
LORA_EXTRA_KEYS = ("load_in_4bit",)
# The fields PEFT fills in itself or that only make sense for other adapters.
_LORA_INTERNAL = {"peft_type", "auto_mapping", "peft_version", "base_model_name_or_path", "revision"}

DEFAULT_LORA: dict[str, Any] = {
    "r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear", "task_type": "CAUSAL_LM",
}
# Defaults bashgym sets on top of TRL's: log every few steps, save checkpoints for resume, no trackers.
DEFAULT_TRAINER: dict[str, Any] = {
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 50,
    "save_total_limit": 2,
    "report_to": "none",
    "disable_tqdm": True,
}
# Learning rates for a LoRA: TRL's defaults (SFT 2e-5, DPO, KTO and GRPO 1e-6) are for full fine-tuning, and a LoRA
# learns best at about ten times the full fine-tuning rate (TRL's "LoRA without regret" guide).
DEFAULT_BY_KIND: dict[str, dict[str, Any]] = {
    "sft": {"assistant_only_loss": True, "max_length": 2048, "learning_rate": 2e-4},
    "dpo": {"max_length": 2048, "learning_rate": 1e-5},
    "kto": {"max_length": 2048, "learning_rate": 1e-5},
    "grpo": {"max_completion_length": 256, "num_generations": 4, "learning_rate": 1e-5},
}


@dataclass
class TrainSpec:
    """Everything a training run needs, validated; `trainer` holds the TRL config fields as given."""

    kind: str
    base_model: str | None = None
    dataset: str | None = None
    output_dir: str | None = None
    gpu: str = "auto"
    reward_funcs: list[str] = field(default_factory=list)
    eval_split: str | None = None
    lora: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)
    source: str = "flags"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def trl_config_class(kind: str) -> type:
    import trl

    return {"sft": trl.SFTConfig, "dpo": trl.DPOConfig, "kto": trl.KTOConfig, "grpo": trl.GRPOConfig}[kind]


def trainer_fields(kind: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(trl_config_class(kind)) if f.init}


def lora_fields() -> dict[str, dataclasses.Field]:
    from peft import LoraConfig

    return {f.name: f for f in dataclasses.fields(LoraConfig) if f.init and f.name not in _LORA_INTERNAL}


def load_spec(path: str | Path | None, kind: str, overrides: dict[str, Any] | None = None) -> TrainSpec:
    """Read and validate a train.yaml (or none), then apply flag overrides (None values are ignored)."""
    if kind not in KINDS:
        raise choice_error("kind", kind, KINDS)
    raw: dict[str, Any] = {}
    where = "flags"
    if path is not None:
        p = Path(path)
        where = str(p)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{p} must hold a mapping of keys to values, got {type(raw).__name__}")
    raw = {**raw, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    for key, flag in (("base_model", "--base-model"), ("dataset", "--dataset")):
        if path is None and not raw.get(key):  # flags only: say so before TRL's slow import (train() checks too)
            raise ConfigError(f"no {key} in {where}: set it in the config or pass {flag}")
    return spec_from_mapping(raw, kind, where)


def spec_from_mapping(raw: dict[str, Any], kind: str, where: str = "config") -> TrainSpec:
    raw = dict(raw)
    declared = raw.pop("kind", None)
    if declared is not None and declared != kind:
        raise ConfigError(f"{where} says kind: {declared!r} but this is `bashgym train {kind}`")
    tfields = trainer_fields(kind)
    valid = set(BASHGYM_KEYS) | set(tfields)
    for key in raw:
        if key not in valid:
            raise unknown_key_error(str(key), valid, where)

    lora = dict(raw.pop("lora", None) or {})
    lfields = lora_fields()
    lvalid = set(lfields) | set(LORA_EXTRA_KEYS)
    for key in lora:
        if key not in lvalid:
            raise unknown_key_error(str(key), lvalid, f"{where} (lora)")
    lora = {**DEFAULT_LORA, **{k: _coerce(v, lfields[k], f"lora.{k}", where) if k in lfields else v
                               for k, v in lora.items()}}

    spec = TrainSpec(kind=kind, source=where, lora=lora)
    for key in BASHGYM_KEYS:
        if key != "lora" and key in raw:
            setattr(spec, key, raw.pop(key))
    if spec.gpu not in GPU_CHOICES:
        raise choice_error("gpu", spec.gpu, GPU_CHOICES, where)
    if isinstance(spec.reward_funcs, str):
        spec.reward_funcs = [spec.reward_funcs]
    for name in spec.reward_funcs:
        if not isinstance(name, str) or ":" not in name:
            raise ConfigError(f'reward_funcs entry {name!r} in {where} must be "module:function"')
    if spec.reward_funcs and kind != "grpo":
        raise ConfigError(f"reward_funcs in {where} only apply to `bashgym train grpo`")
    spec.trainer = {k: _coerce(v, tfields[k], k, where) for k, v in raw.items()}
    return spec


def _coerce(value: Any, f: dataclasses.Field, key: str, where: str) -> Any:
    """YAML reads `2e-4` as a string and users write `"8"`; turn scalars into the field's type."""
    if value is None or not isinstance(value, str):
        return value
    kinds = _scalar_types(f.type)
    try:
        if float in kinds:
            return float(value)
        if int in kinds:
            return int(value)
        if bool in kinds and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
    except ValueError:
        if str not in kinds:
            raise ConfigError(bad_value(key, value, "a number", where)) from None
    return value


def _scalar_types(annotation: Any) -> set[type]:
    if isinstance(annotation, str):  # postponed annotations: read the scalar names out of the text
        names = {"float": float, "int": int, "bool": bool, "str": str}
        return {t for n, t in names.items() if n in annotation.replace("|", " ").replace(",", " ").split()}
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    members = args or (annotation,)
    return {m for m in members if m in (float, int, bool, str)}


def vllm_server_keys(url: str) -> dict[str, Any]:
    """`--vllm-server URL` as GRPOConfig keys: generation goes to a running `trl vllm-serve` server (on its
    own GPUs), and the trainer pushes its updated weights to it after each step."""
    if not url.startswith(("http://", "https://")) or url.rstrip("/").endswith(("://", ":")):
        raise ConfigError(bad_value("--vllm-server", url, "a URL like http://HOST:8000"))
    return {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": url.rstrip("/")}


def build_trl_config(spec: TrainSpec, output_dir: Path, device_args: dict[str, Any]) -> Any:
    """The TRL config for this run: bashgym defaults < device plan < the user's keys."""
    cls = trl_config_class(spec.kind)
    kwargs = {**DEFAULT_TRAINER, **DEFAULT_BY_KIND[spec.kind], **device_args, **spec.trainer}
    kwargs["output_dir"] = str(output_dir)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid training settings in {spec.source}: {exc}") from None


def build_lora_config(spec: TrainSpec) -> Any:
    from peft import LoraConfig

    kwargs = {k: v for k, v in spec.lora.items() if k not in LORA_EXTRA_KEYS}
    try:
        return LoraConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid lora settings in {spec.source}: {exc}") from None
