"""The flywheel as a measured experiment: base → SFT on judged sessions → iteration 2, with an ablation.

One protocol, two entry points: `bashgym demo` runs it on the tiny local model on the CPU, and
`bashgym experiment --config experiment.yaml` runs it on a real local model directory (and a GPU):

1. Task families (`bashgym.gym.instances`) give a *practice* suite and a *held-out* suite of instances with
   disjoint seeds; the held-out instances are never trained on (decontamination is run and its numbers kept).
2. A scripted expert (reference solutions; for a stated share of instances a plausible mistake, as a
   hurried agent makes) rolls out on the practice suite: its rollouts are stored as sessions and judged.
3. Two datasets from those sessions: gold+silver (the judge) and every session (the ablation), both
   decontaminated against the held-out suite; each trains an adapter with the same settings and steps.
4. Base, adapter and ablation are evaluated on the held-out suite (greedy, k=1).
5. Iteration 2: the adapter rolls out on practice instances it has never seen (the practice suite's second
   part, disjoint from the expert's and the held-out ones); its rollouts are judged, the passing ones join the
   judged dataset (expert iteration), and a new adapter is trained on it and evaluated on the same held-out
   instances.

Every pass@1 comes with n and a 95% bootstrap interval; every comparison is paired by instance.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bashgym.errors import ConfigError, did_you_mean
from bashgym.quiet import quiet_libraries

# A hurried agent gets some families wrong more often than others; the judge has to tell them apart.
DEFAULT_MISTAKES = {"count-level": 0.6, "unique-words": 0.6, "json-field": 0.6}
DEFAULT_MISTAKE_RATE = 0.2
# Measured on the tiny model (20 expert sessions per family, 50 held-out instances): 250 steps of 8 at 0.005,
# decayed linearly, take the loss from ~6 to ~0.05 and pass 40-60% of held-out instances. A constant 0.03
# diverged (loss stuck near 5, 0% passed); 0.0015 learns too slowly for the budget (30%).
DEFAULT_SFT: dict[str, Any] = {
    "max_steps": 250, "learning_rate": 0.005, "per_device_train_batch_size": 8, "lr_scheduler_type": "linear",
    "logging_steps": 5, "save_steps": 100000, "max_length": 512,
}
DEFAULT_LORA: dict[str, Any] = {"r": 64, "lora_alpha": 128, "lora_dropout": 0.0, "modules_to_save": ["embed_tokens"]}


@dataclass
class ExperimentConfig:
    """experiment.yaml: every field, its default and what it means.

    base_model: local model directory; empty → build the tiny model (`bashgym model tiny`) in the home.
    gpu: auto | cpu | cuda (training; evaluation uses the GPU when torch sees one).
    families: task families (default: all of `bashgym.gym.instances.FAMILIES`).
    practice_per_family / heldout_per_family: instances per family the expert practises on / held out.
    iteration2_per_family: more practice instances per family, never seen by the expert, that iteration 1's
      adapter rolls out on (its passing rollouts are iteration 2's new data).
    seed: seeds the instances, the expert's mistakes and training.
    expert_mistakes: per-family share of practice instances the expert gets wrong; others use
      expert_mistake_rate.
    tool_mode: how the policy calls the shell: fenced (```bash blocks, for models without a tool template,
      like the tiny one) or native (tool calls, for instruct models such as Qwen2.5-Coder).
    sft: TRL SFTConfig keys for every training run (the same budget for the judged run and the ablation).
    lora: LoraConfig keys (the tiny model trains all its weights through a full-rank LoRA + embeddings).
    max_new_tokens, max_turns: per reply / per episode when the policy is evaluated (64 tokens: the longest
      reference command, fenced, is 54 of the tiny model's tokens).
    iteration2_temperature: sampling temperature of the adapter's practice rollouts (variety to select from).
    workers: episodes run in parallel.
    threads: torch CPU threads (0: torch's default, every core). Training doubles in speed from one thread to
      two on two free cores; on a CPU other jobs share, set fewer threads than free cores.
    """

    base_model: str = ""
    gpu: str = "auto"
    families: list[str] = field(default_factory=list)
    practice_per_family: int = 20
    heldout_per_family: int = 5
    iteration2_per_family: int = 10
    seed: int = 0
    expert_mistakes: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MISTAKES))
    expert_mistake_rate: float = DEFAULT_MISTAKE_RATE
    tool_mode: str = "fenced"
    sft: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SFT))
    lora: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_LORA))
    max_new_tokens: int = 64
    max_turns: int = 2
    iteration2_temperature: float = 0.7
    workers: int = 2
    threads: int = 0

    def mistake_rate(self, family: str) -> float:
        return float(self.expert_mistakes.get(family, self.expert_mistake_rate))


def load_experiment_config(path: Path | None, **overrides: Any) -> ExperimentConfig:
    """experiment.yaml (or the defaults) with flag overrides; unknown keys name the closest valid one."""
    from bashgym.gym.instances import FAMILIES

    data: dict[str, Any] = {}
    where = "experiment config"
    if path is not None:
        where = str(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of keys to values")
    data.update({k: v for k, v in overrides.items() if v is not None})
    valid = ExperimentConfig.__dataclass_fields__
    for key in data:
        if key not in valid:
            raise ConfigError(f"unknown key {key!r} in {where}{did_you_mean(str(key), valid)}")
    cfg = ExperimentConfig()
    for key, value in data.items():
        if key in ("sft", "lora"):
            if not isinstance(value, dict):
                raise ConfigError(f"{key} in {where} must be a mapping")
            value = {**getattr(cfg, key), **value}
        setattr(cfg, key, value)
    for family in [*cfg.families, *cfg.expert_mistakes]:
        if family not in FAMILIES:
            raise ConfigError(f"unknown task family {family!r} in {where}{did_you_mean(family, FAMILIES)}")
    if cfg.gpu not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"gpu: {cfg.gpu!r} in {where} is not one of auto, cpu, cuda")
    if cfg.base_model and not (Path(cfg.base_model).expanduser() / "config.json").is_file():
        raise ConfigError(f"base_model: no model directory at {cfg.base_model} (a local directory with config.json; "
                          "leave it empty to build the tiny model with `bashgym model tiny`)")
    if cfg.tool_mode not in ("fenced", "native"):
        raise ConfigError(f"tool_mode in {where} must be fenced or native, not {cfg.tool_mode!r}")
    for key in ("practice_per_family", "heldout_per_family", "iteration2_per_family", "max_new_tokens", "max_turns",
                "workers", "threads"):
        if not isinstance(getattr(cfg, key), int) or getattr(cfg, key) < (0 if key == "threads" else 1):
            raise ConfigError(f"{key} in {where} must be a positive integer")
    return cfg


# ------------------------------------------------------------------------------------------------ helpers


def policy_rows(rows: list[dict[str, Any]], tool_mode: str) -> list[dict[str, Any]]:
    """Dataset rows rendered in the protocol the policy is evaluated with, so training and evaluation
    prompts match token for token: the gym's system prompt first; in fenced mode tool calls become
    ```bash blocks and results user messages (`to_plain_messages`, what the eval sends); in native mode
    the gym's own `bash` tool spec."""
    from bashgym.eval.clients import to_plain_messages
    from bashgym.gym.protocol import BASH_TOOL, FENCED_SYSTEM_PROMPT, SYSTEM_PROMPT

    out = []
    for row in rows:
        messages = [m for m in row["messages"] if m.get("role") != "system"]
        for m in messages:
            for call in m.get("tool_calls") or []:
                args = call["function"].get("arguments")
                if not isinstance(args, str):
                    call["function"]["arguments"] = json.dumps(args)
        if tool_mode == "fenced":
            out.append({"messages": [{"role": "system", "content": FENCED_SYSTEM_PROMPT},
                                     *to_plain_messages(messages)]})
        else:
            out.append({"messages": [{"role": "system", "content": SYSTEM_PROMPT}, *messages],
                        "tools": [BASH_TOOL]})
    return out


def pass_vector(store: Any, eval_id: str) -> dict[str, float]:
    """task id → 1.0 passed / 0.0 failed (k=1; rollouts without a score are left out)."""
    return {r["task_id"]: 1.0 if r["status"] == "passed" else 0.0
            for r in store.rollouts(eval_id) if r["status"] != "error"}


def rate(vector: dict[str, float]) -> dict[str, Any]:
    """pass@1 with n and a 95% bootstrap interval."""
    from bashgym.eval.metrics import bootstrap_ci

    values = list(vector.values())
    if not values:
        return {"pass@1": None, "n": 0, "ci95": [None, None]}
    lo, hi = bootstrap_ci(values)
    return {"pass@1": sum(values) / len(values), "n": len(values), "ci95": [lo, hi]}


def by_family(vector: dict[str, float]) -> dict[str, dict[str, Any]]:
    from bashgym.gym.instances import family_of

    groups: dict[str, list[float]] = {}
    for task_id, v in vector.items():
        groups.setdefault(family_of(task_id), []).append(v)
    return {f: {"pass@1": sum(v) / len(v), "n": len(v)} for f, v in sorted(groups.items())}


# ------------------------------------------------------------------------------------------------ protocol


# The policies compared on the held-out suite, and the stage that evaluated each.
EVAL_STAGES = {"base": "eval_base", "adapter": "eval_adapter", "all_sessions": "eval_all",
               "iteration2": "eval_iteration2"}


@dataclass
class ExperimentResult:
    config: dict[str, Any]
    out_dir: Path
    stages: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class Experiment:
    """Runs the protocol in `home` (a bashgym home: store, runs, datasets) step by step."""

    def __init__(self, home: Path, config: ExperimentConfig,
                 on_stage: Callable[[str, str, str], None] | None = None) -> None:
        self.home = home
        self.cfg = config
        self.on_stage = on_stage
        self.out = home / "experiment"
        self.result = ExperimentResult(config=asdict(config), out_dir=self.out)
        self._store: Any = None

    # -- plumbing -----------------------------------------------------------------------------------------

    @property
    def store(self) -> Any:
        if self._store is None:
            from bashgym.store import Store

            self._store = Store(self.home / "bashgym.db")
        return self._store

    def stage(self, name: str, description: str, fn: Callable[[], Any]) -> Any:
        if self.on_stage:
            self.on_stage(name, description, "start")
        start = time.perf_counter()
        with quiet_libraries():
            value = fn()
        self.result.seconds[name] = time.perf_counter() - start
        self.result.stages[name] = value
        if self.on_stage:
            self.on_stage(name, description, "done")
        return value

    def run(self) -> ExperimentResult:
        os.environ["BASHGYM_HOME"] = str(self.home)  # runs/ and datasets/ land in this home
        if self.cfg.threads:
            import torch

            torch.set_num_threads(self.cfg.threads)
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            self._run()
        finally:
            if self._store is not None:
                self._store.close()
        (self.out / "experiment.json").write_text(json.dumps(self.summary(), indent=2, default=str), encoding="utf-8")
        return self.result

    def _run(self) -> None:
        cfg = self.cfg
        s = self.stage
        s("suites", "generate practice and held-out task instances", self.make_suites)
        s("expert", f"scripted expert rolls out on {len(self.practice)} practice instances", self.expert_rollouts)
        s("judge", "judge the expert's sessions (the gym's tests are its verified signal)", self.judge)
        s("datasets", "datasets: gold+silver, and every session (ablation)", self.datasets)
        s("model", "base model", self.base_model)
        steps = cfg.sft.get("max_steps")
        s("train", f"train on the judged dataset ({steps} steps)", lambda: self.train("judged"))
        s("train_all", f"train on every session, same budget ({steps} steps)", lambda: self.train("all"))
        n = len(self.heldout)
        s("eval_base", f"held-out eval: base model on {n} instances", lambda: self.evaluate("base", None))
        s("eval_adapter", f"held-out eval: adapter on {n} instances", lambda: self.evaluate("adapter", "train"))
        s("eval_all", f"held-out eval: all-sessions ablation on {n} instances",
          lambda: self.evaluate("all_sessions", "train_all"))
        s("rollouts2", f"iteration 2: the adapter rolls out on {len(self.practice2)} new practice instances",
          self.adapter_rollouts)
        s("dataset2", "iteration 2: passing rollouts join the judged dataset", self.dataset2)
        s("train2", f"iteration 2: retrain ({steps} steps)", lambda: self.train("iteration2"))
        s("eval_iteration2", f"held-out eval: iteration 2 on {n} instances",
          lambda: self.evaluate("iteration2", "train2"))
        s("decontamination", "decontamination: held-out instances vs every training example", self.decontamination)

    # -- stages -------------------------------------------------------------------------------------------

    def make_suites(self) -> dict[str, Any]:
        from bashgym.gym.instances import generate, write_suite
        from bashgym.gym.task import load_suite

        cfg = self.cfg
        per_family = cfg.practice_per_family + cfg.iteration2_per_family
        drawn = generate(per_family, seed=cfg.seed * 2, families=cfg.families or None)
        # each family's first practice_per_family instances are the expert's, the rest iteration 2's
        rank = {inst.id: n % per_family for n, inst in enumerate(drawn)}
        practice = [i for i in drawn if rank[i.id] < cfg.practice_per_family]
        practice2 = [i for i in drawn if rank[i.id] >= cfg.practice_per_family]
        heldout = generate(cfg.heldout_per_family, seed=cfg.seed * 2 + 1, families=cfg.families or None,
                           avoid=drawn)
        self.instances = {i.id: i for i in [*drawn, *heldout]}
        self.practice_dir = write_suite(practice, self.out / "practice")
        self.practice2_dir = write_suite(practice2, self.out / "practice2")
        self.heldout_dir = write_suite(heldout, self.out / "heldout")
        self.practice, self.practice2 = load_suite(self.practice_dir), load_suite(self.practice2_dir)
        self.heldout = load_suite(self.heldout_dir)
        shared = {i.id for i in drawn} & {i.id for i in heldout}
        return {"practice": len(practice), "practice2": len(practice2), "heldout": len(heldout),
                "families": sorted({i.family for i in practice}), "practice_dir": str(self.practice_dir),
                "practice2_dir": str(self.practice2_dir), "heldout_dir": str(self.heldout_dir),
                "shared_instance_ids": len(shared)}

    def expert_rollouts(self) -> dict[str, Any]:
        from bashgym.eval.runner import new_eval_id, run_eval
        from bashgym.eval.scripted import ScriptedClient

        rng = random.Random(f"expert:{self.cfg.seed}")
        commands, mistakes = {}, 0
        for task in self.practice:
            inst = self.instances[task.id]
            wrong = rng.random() < self.cfg.mistake_rate(inst.family)
            mistakes += wrong
            commands[task.instruction] = inst.mistake if wrong else inst.solution
        client = ScriptedClient(commands)
        self.expert_eval = new_eval_id("scripted-expert")
        summary = run_eval(self.store, client, self.practice, eval_id=self.expert_eval, model=client.model,
                           suite=str(self.practice_dir), k=1, workers=self.cfg.workers, max_turns=3,
                           config={"label": "expert"})
        vec = pass_vector(self.store, self.expert_eval)
        return {"eval_id": self.expert_eval, "sessions": summary["ran"], "mistakes_scripted": mistakes,
                **rate(vec), "families": by_family(vec)}

    def judge(self, session_prefix: str | None = None) -> dict[str, Any]:
        from bashgym.judge.config import load_config
        from bashgym.judge.runner import judge_store, pending_sessions

        ids = pending_sessions(self.store)
        if session_prefix:
            ids = [i for i in ids if i.startswith(session_prefix)]
        summary = judge_store(self.store, load_config(), session_ids=ids)
        return {"sessions": summary.sessions, "session_tiers": dict(summary.session_tiers)}

    def _dataset(self, name: str, tiers: list[str] | None, prefixes: list[str]) -> dict[str, Any]:
        from bashgym.factory.build import build_dataset
        from bashgym.factory.config import parse_config
        from bashgym.factory.select import ALL_TIERS

        cfg = parse_config({
            "name": name, "format": "messages",
            # None = every session (the ablation), not the build's judge-following default
            "select": {"tiers": tiers if tiers is not None else list(ALL_TIERS), "sessions": prefixes},
            "decontaminate": {"suite": str(self.heldout_dir), "solutions": False},
            "split": {"train": 1.0, "validation": 0.0, "test": 0.0},
            "write": {"parquet": False, "hf": False},
        }, f"experiment dataset {name}")
        record = build_dataset(self.store, cfg)
        rows = [json.loads(line) for line in (Path(record["path"]) / "train.jsonl").read_text().splitlines() if line]
        policy = Path(record["path"]) / f"train-{self.cfg.tool_mode}.jsonl"
        policy.write_text("".join(json.dumps(r) + "\n" for r in policy_rows(rows, self.cfg.tool_mode)),
                          encoding="utf-8")
        decon = next((st for st in record["counts"]["steps"] if st["name"] == "decontaminate"), {})
        return {"id": record["id"], "examples": record["counts"]["examples"],
                "sessions": record["counts"]["sessions"], "train_file": str(policy),
                "decontaminate_dropped": sum(decon.get("dropped", {}).values()), "steps": record["counts"]["steps"]}

    def datasets(self) -> dict[str, Any]:
        prefix = f"gym-{self.expert_eval}-"
        self.ds = {"judged": self._dataset("flywheel-judged", ["gold", "silver"], [prefix]),
                   "all": self._dataset("flywheel-all", None, [prefix])}
        return self.ds

    def base_model(self) -> dict[str, Any]:
        if self.cfg.base_model:
            path = Path(self.cfg.base_model).expanduser()
            if not (path / "config.json").is_file():
                raise ConfigError(f"base_model {path} is not a local model directory (no config.json)")
            self.model_dir = path.resolve()
            return {"path": str(self.model_dir), "built": False}
        from bashgym.train.tiny import build_tiny_model

        self.model_dir = build_tiny_model(self.home / "models" / "tiny")
        return {"path": str(self.model_dir), "built": True}

    def train(self, which: str) -> dict[str, Any]:
        from bashgym.train.config import load_spec
        from bashgym.train.run import train

        data = self.ds2 if which == "iteration2" else self.ds[which]
        overrides = {**self.cfg.sft, "base_model": str(self.model_dir), "dataset": data["train_file"],
                     "gpu": self.cfg.gpu, "lora": dict(self.cfg.lora), "seed": self.cfg.seed}
        spec = load_spec(None, "sft", overrides)
        from transformers import TrainerCallback

        # Any callback makes train() drop transformers' dict printer: our output stays ours (and valid JSON).
        result = train(spec, self.store, callbacks=[TrainerCallback()])
        m = result.metrics
        return {"run_id": result.run_id, "adapter_dir": str(result.adapter_dir), "examples": m.get("train_examples"),
                "steps": m.get("steps"), "first_loss": m.get("first_loss"), "final_loss": m.get("final_loss"),
                "loss_history": m.get("loss_history"), "device": result.device}

    def _client(self, adapter_stage: str | None, temperature: float) -> Any:
        from bashgym.eval.clients import LocalModelClient

        adapter = self.result.stages[adapter_stage]["adapter_dir"] if adapter_stage else None
        return LocalModelClient(self.model_dir, adapter=adapter, tool_mode=self.cfg.tool_mode,
                                temperature=temperature, max_new_tokens=self.cfg.max_new_tokens)

    def evaluate(self, label: str, adapter_stage: str | None) -> dict[str, Any]:
        from bashgym.eval.runner import new_eval_id, run_eval

        client = self._client(adapter_stage, 0.0)
        eval_id = new_eval_id(str(self.model_dir), label)
        run_eval(self.store, client, self.heldout, eval_id=eval_id, model=client.model, suite=str(self.heldout_dir),
                 k=1, adapter_run_id=self.result.stages[adapter_stage]["run_id"] if adapter_stage else None,
                 workers=self.cfg.workers, max_turns=self.cfg.max_turns, config={"label": label, "temperature": 0.0})
        vec = pass_vector(self.store, eval_id)
        return {"eval_id": eval_id, **rate(vec), "families": by_family(vec), "vector": vec}

    def adapter_rollouts(self) -> dict[str, Any]:
        from bashgym.eval.runner import new_eval_id, run_eval

        client = self._client("train", self.cfg.iteration2_temperature)
        self.rollouts2_eval = new_eval_id(str(self.model_dir), "practice")
        run_eval(self.store, client, self.practice2, eval_id=self.rollouts2_eval, model=client.model,
                 suite=str(self.practice2_dir), k=1, adapter_run_id=self.result.stages["train"]["run_id"],
                 workers=self.cfg.workers, max_turns=self.cfg.max_turns, seed=self.cfg.seed + 1,
                 config={"label": "iteration2-practice", "temperature": self.cfg.iteration2_temperature})
        vec = pass_vector(self.store, self.rollouts2_eval)
        judged = self.judge(f"gym-{self.rollouts2_eval}-")
        return {"eval_id": self.rollouts2_eval, "rollouts": len(vec), "passed": int(sum(vec.values())), **rate(vec),
                "judge": judged}

    def dataset2(self) -> dict[str, Any]:
        self.ds2 = self._dataset("flywheel-iteration2", ["gold", "silver"],
                                 [f"gym-{self.expert_eval}-", f"gym-{self.rollouts2_eval}-"])
        self.ds2["added"] = self.ds2["examples"] - self.ds["judged"]["examples"]
        return self.ds2

    def decontamination(self) -> dict[str, Any]:
        """The held-out instructions against every training example: the largest share of an instance's
        n-grams found in any example, beside the threshold the factory drops at."""
        from bashgym.factory.config import DecontaminateConfig
        from bashgym.factory.decontaminate import ngrams, words

        cfg = DecontaminateConfig()
        texts = []
        for ds in (self.ds["judged"], self.ds["all"], self.ds2):
            for line in Path(ds["train_file"]).read_text().splitlines():
                row = json.loads(line)
                texts.append(" ".join(str(m.get("content") or "") for m in row["messages"] if m["role"] == "user"))
        example_grams = [ngrams(words(t), cfg.ngram) for t in texts]
        worst, worst_id = 0.0, None
        for task in self.heldout:
            grams = ngrams(words(task.instruction), cfg.ngram)
            share = max((len(grams & eg) / len(grams) for eg in example_grams), default=0.0)
            if share > worst:
                worst, worst_id = share, task.id
        training_ids = {r["task_id"] for e in (self.expert_eval, self.rollouts2_eval) for r in self.store.rollouts(e)}
        return {"heldout": len(self.heldout), "training_examples": len(texts), "ngram": cfg.ngram,
                "threshold": cfg.threshold, "max_overlap": worst, "max_overlap_instance": worst_id,
                "heldout_ids_in_training": len(training_ids & {t.id for t in self.heldout}),
                "dropped_by_factory": {k: self.ds[k]["decontaminate_dropped"] for k in ("judged", "all")}}

    # -- results ------------------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The numbers: pass@1 with n and interval for each policy, paired differences with intervals."""
        from bashgym.eval.metrics import paired_difference

        st = self.result.stages
        out: dict[str, Any] = {"config": self.result.config, "seconds": self.result.seconds}
        evals = {k: st.get(stage) for k, stage in EVAL_STAGES.items()}
        if all(evals.values()):
            vec = {k: v["vector"] for k, v in evals.items()}
            out["eval"] = {
                "heldout_instances": len(self.heldout),
                **{k: {"pass@1": v["pass@1"], "n": v["n"], "ci95": v["ci95"]} for k, v in evals.items()},
                "delta_ci95": paired_difference(vec["base"], vec["adapter"])["ci95"],
                "comparisons": {
                    "adapter_vs_base": paired_difference(vec["base"], vec["adapter"]),
                    "judged_vs_all_sessions": paired_difference(vec["all_sessions"], vec["adapter"]),
                    "iteration2_vs_iteration1": paired_difference(vec["adapter"], vec["iteration2"]),
                },
                "families": {k: v["families"] for k, v in evals.items()},
            }
        out["stages"] = {k: ({kk: vv for kk, vv in v.items() if kk != "vector"} if isinstance(v, dict) else v)
                         for k, v in st.items()}
        return out
