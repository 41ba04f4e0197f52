"""What to do with a trained LoRA: merge it into the base weights, or export it for a serving engine.

- merge: base model + adapter → one standalone model dir (safetensors + tokenizer), loadable anywhere.
- export: the adapter alone as `adapter_model.safetensors` + `adapter_config.json` (+ tokenizer and a
  README with the exact commands), the layout vLLM's `--lora-modules` and llama.cpp's
  `convert_lora_to_gguf.py` read.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson

from bashgym.errors import BashgymError, NotFoundError
from bashgym.train.gpu import locate_model

MERGED_DIR = "merged"
EXPORT_DIR = "export"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json",
                   "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json")


def adapter_dir_of(run: dict[str, Any]) -> Path:
    path = Path((run.get("metrics") or {}).get("adapter_dir") or Path(run["output_dir"]) / "adapter")
    if not (path / "adapter_config.json").is_file():
        raise NotFoundError(
            f"run {run['id']} has no saved adapter at {path} (status: {run['status']}); "
            "finish it with `bashgym train ... --resume`"
        )
    return path


def merge_adapter(base_model: str, adapter_dir: Path, out_dir: Path) -> Path:
    """Fold the LoRA into the base weights and save a standalone model + tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    merged = model.merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out_dir), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(str(out_dir))
    return out_dir


def export_adapter(base_model: str, adapter_dir: Path, out_dir: Path, name: str) -> Path:
    """Copy the adapter as safetensors with a clean config naming its base model, plus a usage README."""
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        bin_weights = adapter_dir / "adapter_model.bin"
        if not bin_weights.is_file():
            raise NotFoundError(f"no adapter_model.safetensors or adapter_model.bin in {adapter_dir}")
        weights = _bin_to_safetensors(bin_weights, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if weights.parent != out_dir:
        shutil.copy2(weights, out_dir / "adapter_model.safetensors")
    config = orjson.loads((adapter_dir / "adapter_config.json").read_bytes())
    if config.get("modules_to_save"):
        raise BashgymError(
            f"adapter in {adapter_dir} also trains full modules ({config['modules_to_save']}); vLLM and llama.cpp "
            "load plain LoRA only — use `bashgym adapter merge` instead"
        )
    config["base_model_name_or_path"] = base_model
    config["inference_mode"] = True
    (out_dir / "adapter_config.json").write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    for fname in TOKENIZER_FILES:
        if (adapter_dir / fname).is_file():
            shutil.copy2(adapter_dir / fname, out_dir / fname)
    (out_dir / "README.md").write_text(_usage(base_model, out_dir, name, config), encoding="utf-8")
    return out_dir


def _bin_to_safetensors(path: Path, out_dir: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    state = torch.load(path, map_location="cpu", weights_only=True)
    target = out_dir / "adapter_model.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(target))
    return target


def _usage(base_model: str, out_dir: Path, name: str, config: dict[str, Any]) -> str:
    return f"""# LoRA adapter `{name}`

Base model: `{base_model}` · rank {config.get('r')} · alpha {config.get('lora_alpha')} ·
targets {config.get('target_modules')}

## vLLM

```bash
vllm serve {base_model} --enable-lora --max-lora-rank {max(int(config.get('r') or 16), 16)} \\
  --lora-modules {name}={out_dir}
# then request model="{name}" from the OpenAI-compatible API
```

## llama.cpp

```bash
python convert_lora_to_gguf.py --base <local dir of {base_model}> --outtype f16 {out_dir}
llama-server -m <base>.gguf --lora {out_dir}/<the converted>.gguf
```

## transformers + PEFT

```python
from peft import AutoPeftModelForCausalLM
model = AutoPeftModelForCausalLM.from_pretrained("{out_dir}")
```
"""


def merge_run(run: dict[str, Any], out_dir: Path | None = None) -> Path:
    out = out_dir or Path(run["output_dir"]) / MERGED_DIR
    return merge_adapter(locate_model(run["base_model"]), adapter_dir_of(run), out)


def export_run(run: dict[str, Any], out_dir: Path | None = None) -> Path:
    out = out_dir or Path(run["output_dir"]) / EXPORT_DIR
    return export_adapter(run["base_model"], adapter_dir_of(run), out, name=run["id"])
