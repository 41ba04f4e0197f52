"""SFT throughput on a GPU: tokens/s and peak memory, plain TRL + PEFT vs bashgym's GPU path.

    python benchmarks/train_gpu_throughput.py [--steps 30] [--batch 8] [--seq 1024] [--model DIR]

Both sides train the same LoRA (r 16, all linear layers, bf16) on the same synthetic tool-calling
conversations for the same number of steps. The model is ~0.5B parameters with Qwen2.5-0.5B's shape,
built from a config with random weights (no download), unless --model names a local model dir.

- baseline: TRL SFTTrainer + PEFT, bf16, nothing else.
- bashgym:  `bashgym.train.run.train` with `--gpu auto` — Unsloth when installed, else Liger kernels when
  installed (`pip install liger-kernel`); with neither, both sides are the same path and the ratio ~1.

Each side runs in its own process (kernel libraries patch model classes globally, and peak memory must
not carry over). Prints both, then the ratios. Exits 0 with a message when there is no CUDA device.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

QWEN25_05B = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                  num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1_000_000.0,
                  tie_word_embeddings=True, vocab_size=151_936)


def build_model(out: Path) -> Path:
    """~0.5B Qwen2 with random weights + bashgym's tiny tokenizer (its ids fit in the big vocab)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from bashgym.train.tiny import END_OF_TURN, build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    eos = tok.convert_tokens_to_ids(END_OF_TURN)
    config = Qwen2Config(**QWEN25_05B, eos_token_id=eos, pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def write_dataset(out: Path, n: int, seq: int) -> Path:
    """Tool-calling conversations of roughly `seq` tokens (long tool outputs pad them out)."""
    rows = []
    for i in range(n):
        listing = "\n".join(f"-rw-r--r-- 1 dev dev {1000 + j * 7} Nov 25 file_{i}_{j}.py" for j in range(seq // 24))
        rows.append({"messages": [
            {"role": "user", "content": f"List the python files in project {i} and count them."},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "id": f"c{i}", "function": {
                "name": "bash", "arguments": json.dumps({"command": f"ls -la project{i}/*.py"})}}]},
            {"role": "tool", "tool_call_id": f"c{i}", "name": "bash", "content": listing},
            {"role": "assistant", "content": f"There are {seq // 24} python files in project {i}."},
        ]})
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return out


def common_args(steps: int, batch: int, seq: int) -> dict:
    return {"max_steps": steps, "per_device_train_batch_size": batch, "max_length": seq, "learning_rate": 1e-4,
            "logging_steps": 1, "save_strategy": "no", "report_to": "none", "assistant_only_loss": True,
            "gradient_checkpointing": True, "bf16": True, "disable_tqdm": True}


LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear", "task_type": "CAUSAL_LM"}


def run_baseline(model_dir: Path, data_dir: Path, work: Path, steps: int, batch: int, seq: int) -> dict:
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from bashgym.train.data import load_splits

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
    tok = AutoTokenizer.from_pretrained(model_dir)
    args = SFTConfig(output_dir=str(work / "baseline"), **common_args(steps, batch, seq))
    trainer = SFTTrainer(model=model, args=args, train_dataset=load_splits(data_dir)["train"], processing_class=tok,
                         peft_config=LoraConfig(**LORA))
    torch.cuda.reset_peak_memory_stats()
    out = trainer.train()
    tokens = max((r.get("num_tokens", 0) for r in trainer.state.log_history), default=0)
    return {"tokens": tokens, "seconds": out.metrics["train_runtime"], "peak_gib": torch.cuda.max_memory_allocated() / 2**30}


def run_bashgym(model_dir: Path, data_dir: Path, work: Path, steps: int, batch: int, seq: int) -> dict:
    import torch

    from bashgym.store import Store
    from bashgym.train.config import spec_from_mapping
    from bashgym.train.run import train

    os.environ["BASHGYM_HOME"] = str(work / "home")
    cfg = {**common_args(steps, batch, seq), "base_model": str(model_dir), "dataset": str(data_dir), "gpu": "auto",
           "output_dir": str(work / "bashgym"), "lora": LORA}
    spec = spec_from_mapping(cfg, "sft", "benchmark")
    torch.cuda.reset_peak_memory_stats()
    with Store.open() as store:
        result = train(spec, store)
    tokens = 0
    for line in (result.output_dir / "metrics.jsonl").read_text().splitlines():
        tokens = max(tokens, json.loads(line).get("num_tokens", 0) or 0)
    return {"tokens": tokens, "seconds": result.metrics["train_runtime"],
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30, "device": result.device}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--model", type=Path, default=None, help="local model dir (default: build ~0.5B from a config)")
    ap.add_argument("--variant", choices=["baseline", "bashgym"], help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    try:
        import torch
    except ImportError:
        print("torch is not installed: pip install 'bashgym[train]'; nothing to measure")
        return 0
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark measures GPU training throughput; run it on a machine with a GPU")
        return 0

    if a.variant:  # child process: one side, one JSON line
        fn = run_baseline if a.variant == "baseline" else run_bashgym
        print("RESULT " + json.dumps(fn(a.model, a.data, a.work, a.steps, a.batch, a.seq)))
        return 0

    from bashgym.train.gpu import installed

    with tempfile.TemporaryDirectory(prefix="bashgym-bench-") as tmp:
        work = Path(tmp)
        model_dir = a.model or build_model(work / "model")
        data_dir = write_dataset(work / "data", n=a.steps * a.batch, seq=a.seq)
        print(f"GPU {torch.cuda.get_device_name(0)} · model {model_dir} · {a.steps} steps × batch {a.batch} × "
              f"~{a.seq} tokens · liger={installed('liger_kernel')} unsloth={installed('unsloth')}")
        results = {}
        for variant in ("baseline", "bashgym"):
            cmd = [sys.executable, __file__, "--variant", variant, "--model", str(model_dir), "--data", str(data_dir),
                   "--work", str(work), "--steps", str(a.steps), "--batch", str(a.batch), "--seq", str(a.seq)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                print(f"{variant} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
                return 1
            r = json.loads(line[len("RESULT "):])
            r["tokens_per_s"] = r["tokens"] / r["seconds"] if r["seconds"] else 0.0
            results[variant] = r
            print(f"{variant:9s} {r['tokens_per_s']:10.0f} tokens/s   peak {r['peak_gib']:.2f} GiB"
                  + (f"   ({r['device']})" if r.get("device") else ""))
        base, sub = results["baseline"], results["bashgym"]
        print(f"ratio     {sub['tokens_per_s'] / base['tokens_per_s']:.2f}x tokens/s   "
              f"{sub['peak_gib'] / base['peak_gib']:.2f}x peak memory (bashgym / baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
