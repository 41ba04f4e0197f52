"""`--gpu auto|cpu|cuda` → where to train and with which accelerators.

On CUDA: bf16 (fp16 on cards without it), QLoRA when asked, and the optional kernels when installed —
Liger (fused RMSNorm/RoPE/SwiGLU/cross-entropy, a TrainingArguments switch) and Unsloth (its own fast
model loader). On the CPU: `use_cpu=True`, fp32, no accelerators; correct, only slow.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bashgym.errors import ConfigError, NotFoundError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]*[A-Za-z0-9_])?$")


@dataclass
class DevicePlan:
    device: str  # "cuda" | "cpu"
    dtype: str  # "bfloat16" | "float16" | "float32"
    use_liger: bool = False
    use_unsloth: bool = False
    load_in_4bit: bool = False
    notes: list[str] = field(default_factory=list)

    def trainer_args(self) -> dict[str, Any]:
        """TrainingArguments fields this plan sets (the user's config still wins)."""
        if self.device == "cpu":  # memory is rarely the limit on a CPU; recomputing activations only costs time
            return {"use_cpu": True, "bf16": False, "fp16": False, "gradient_checkpointing": False}
        args: dict[str, Any] = {"bf16": self.dtype == "bfloat16", "fp16": self.dtype == "float16"}
        if self.use_liger:
            args["use_liger_kernel"] = True
        return args

    def describe(self) -> str:
        extras = [name for name, on in (("liger", self.use_liger), ("unsloth", self.use_unsloth),
                                        ("4-bit", self.load_in_4bit)) if on]
        return f"{self.device} {self.dtype}" + (f" + {', '.join(extras)}" if extras else "")


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def plan_device(gpu: str = "auto", *, load_in_4bit: bool = False, accelerators: bool = True) -> DevicePlan:
    """Pick the device and accelerators; `accelerators=False` gives the plain TRL+PEFT path (benchmarks)."""
    if gpu not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--gpu must be auto, cpu or cuda, got {gpu!r}")
    has_cuda = gpu != "cpu" and cuda_available()
    if gpu == "cuda" and not has_cuda:
        raise ConfigError("--gpu cuda was asked for but torch sees no CUDA device; use --gpu auto or --gpu cpu")
    if not has_cuda:
        if load_in_4bit:
            raise ConfigError("lora.load_in_4bit (QLoRA) needs a CUDA GPU; remove it to train on the CPU")
        return DevicePlan(device="cpu", dtype="float32")
    import torch

    dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    plan = DevicePlan(device="cuda", dtype=dtype, load_in_4bit=load_in_4bit)
    if load_in_4bit and not installed("bitsandbytes"):
        raise ConfigError("lora.load_in_4bit needs bitsandbytes: pip install bitsandbytes")
    if accelerators:
        plan.use_unsloth = installed("unsloth")
        plan.use_liger = installed("liger_kernel") and not plan.use_unsloth  # unsloth patches its own kernels
        if not (plan.use_unsloth or plan.use_liger):
            plan.notes.append("pip install liger-kernel (or unsloth) for faster, leaner GPU training")
    return plan


def locate_model(name: str) -> str:
    """The local directory of a model: `name` itself, or the cached snapshot of a hub id.

    bashgym never downloads a model at run time. Checking first turns the two common mistakes into one
    line each: a mistyped path (transformers would read it as a malformed hub id) and a hub id that is not
    in the cache (an offline machine would retry for a minute, then fail)."""
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise NotFoundError(f"{path} is not a model directory (it has no config.json); pass the directory "
                                "that save_pretrained wrote, or build one with `bashgym model tiny DIR`")
        return str(path)
    if not _HUB_ID.match(name) or name.startswith((".", "~")):
        raise NotFoundError(f"no model directory at {name}; check the path, or build a small local model with "
                            "`bashgym model tiny DIR`")
    from huggingface_hub import snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE

    try:
        return snapshot_download(name, local_files_only=True)
    except (OSError, ValueError):
        raise NotFoundError(
            f"model {name!r} is not on this machine (no such directory, and not in the Hugging Face cache "
            f"{HF_HUB_CACHE}); download it once with `hf download {name}`, or pass a local model directory"
        ) from None


def load_model(base_model: str, plan: DevicePlan, lora_config: Any = None) -> tuple[Any, Any, bool]:
    """(model, tokenizer, already_peft): Unsloth returns a PEFT-wrapped model itself; otherwise TRL wraps."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, plan.dtype)
    if plan.use_unsloth:
        from unsloth import FastLanguageModel  # pragma: no cover - GPU only

        model, tokenizer = FastLanguageModel.from_pretrained(
            base_model, dtype=dtype, load_in_4bit=plan.load_in_4bit
        )
        if lora_config is not None:
            model = FastLanguageModel.get_peft_model(
                model, r=lora_config.r, lora_alpha=lora_config.lora_alpha, lora_dropout=lora_config.lora_dropout,
                target_modules=_unsloth_targets(lora_config.target_modules),
                use_gradient_checkpointing="unsloth",
            )
        return model, tokenizer, lora_config is not None
    kwargs: dict[str, Any] = {"dtype": dtype}
    if plan.load_in_4bit:
        from transformers import BitsAndBytesConfig  # pragma: no cover - GPU only

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
        )
    model = AutoModelForCausalLM.from_pretrained(base_model, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, False


def _unsloth_targets(targets: Any) -> list[str]:
    if targets in (None, "all-linear"):
        return ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    return [targets] if isinstance(targets, str) else list(targets)
