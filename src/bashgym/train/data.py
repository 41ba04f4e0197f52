"""Find and load the training data: a bashgym dataset id (datasets table → its directory), a path to a
.jsonl / .parquet file or a dataset directory (train/validation/test files or an HF `save_to_disk` dir),
or, for GRPO, `gym:<suite>` (one prompt per gym task).

Rows are normalised to what chat templates expect: tool-call `arguments` as objects (Qwen2.5, Llama 3.x and
others render `arguments | tojson`; a JSON string would be rendered as an escaped string), `tools` as a list
of specs. Conversation columns are stored as `datasets.Json` values (`factory.write.dataset_from_rows`) so
Arrow never unifies the differing argument shapes of different tools into one struct.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bashgym.errors import ConfigError, NotFoundError
from bashgym.factory.write import dataset_from_rows
from bashgym.store import Store

SPLIT_FILES = ("train", "validation", "test")
REQUIRED_COLUMNS = {"sft": ({"messages"}, {"prompt", "completion"}, {"text"}),
                    "dpo": ({"prompt", "chosen", "rejected"}, {"chosen", "rejected"}),
                    "kto": ({"prompt", "completion", "label"},),
                    "grpo": ({"prompt"}, {"messages"})}


@dataclass
class TrainingData:
    train: Any  # datasets.Dataset
    eval: Any | None
    dataset_id: str | None
    location: str
    eval_split: str | None = None


def resolve_dataset(ref: str, store: Store) -> tuple[str | None, Path]:
    """(dataset id or None, path on disk) for a dataset id or a path."""
    path = Path(ref).expanduser()
    if path.exists():
        return None, path.resolve()
    try:  # an id, a unique id prefix, or a dataset name (its newest version)
        dataset_id = store.resolve_dataset_id(ref)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc}; --dataset {ref!r} is not an existing file or directory either") from None
    row = store.dataset_row(dataset_id)
    assert row is not None
    path = Path(row["path"])
    if not path.exists():
        raise NotFoundError(f"dataset {dataset_id} points at {path}, which no longer exists; rebuild it")
    return dataset_id, path


def load_splits(path: Path) -> dict[str, Any]:
    """Every split found at `path` as a datasets.Dataset, keyed by split name."""
    from datasets import DatasetDict, load_from_disk

    if path.is_file():
        loaded = _load_file(path)
        if loaded is None:
            raise ConfigError(f"{path} holds no examples")
        return {"train": loaded}
    splits: dict[str, Any] = {}
    for split in SPLIT_FILES:
        for ext in ("jsonl", "json", "parquet"):
            f = path / f"{split}.{ext}"
            if f.is_file():
                loaded = _load_file(f)
                if loaded is not None:  # an empty split (e.g. no validation rows) counts as absent
                    splits[split] = loaded
                break
    if splits:
        return splits
    hf = path / "hf" if (path / "hf").is_dir() else path
    if (hf / "dataset_dict.json").is_file() or (hf / "dataset_info.json").is_file():
        loaded = load_from_disk(str(hf))
        if isinstance(loaded, DatasetDict):
            return {name: dataset_from_rows([normalize_row(r) for r in ds]) for name, ds in loaded.items()}
        return {"train": dataset_from_rows([normalize_row(r) for r in loaded])}
    raise NotFoundError(f"no train.jsonl, train.parquet or saved HF dataset in {path}")


def _load_file(path: Path) -> Any | None:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        rows = []
        for n, line in enumerate(path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n} is not valid JSON: {exc}") from None
    if not rows:
        return None
    return dataset_from_rows([normalize_row(r) for r in rows])


def normalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """`tools` as a list of specs and tool-call arguments as objects, whichever form the file holds.

    >>> normalize_row({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "bash",
    ...     "arguments": '{"command": "ls"}'}}]}]})["messages"][0]["tool_calls"][0]["function"]["arguments"]
    {'command': 'ls'}
    """
    row = dict(row)
    tools = row.get("tools")
    if isinstance(tools, str):
        try:
            row["tools"] = orjson.loads(tools)
        except orjson.JSONDecodeError:
            raise ConfigError(f"a row's `tools` is not valid JSON: {tools[:80]!r}") from None
    for key in ("messages", "prompt", "chosen", "rejected", "completion"):
        value = row.get(key)
        if isinstance(value, list):
            row[key] = [_normalize_message(m) for m in value]
    return row


def _normalize_message(message: Any) -> Any:
    if not isinstance(message, dict) or not message.get("tool_calls"):
        return message
    calls = []
    for call in message["tool_calls"]:
        call = dict(call)
        fn = dict(call.get("function") or {})
        fn["arguments"] = arguments_object(fn.get("arguments"))
        call["function"] = fn
        calls.append(call)
    return {**message, "tool_calls": calls}


def arguments_object(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as the object a chat template renders with `tojson`: a JSON string is parsed,
    anything that is not an object is kept under "input".

    >>> arguments_object('{"command": "ls"}'), arguments_object("ls"), arguments_object(None)
    ({'command': 'ls'}, {'input': 'ls'}, {})
    """
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return {"input": arguments}
    return arguments if isinstance(arguments, dict) else {"input": arguments}


def check_columns(ds: Any, kind: str, where: str) -> None:
    cols = set(ds.column_names)
    options = REQUIRED_COLUMNS[kind]
    if not any(need <= cols for need in options):
        wanted = " or ".join("+".join(sorted(o)) for o in options)
        raise ConfigError(f"{where} has columns {sorted(cols)}; `bashgym train {kind}` needs {wanted}")


def prompts_from_messages(ds: Any) -> Any:
    """GRPO from an SFT dataset: the prompt is every message before the first assistant reply."""
    def to_prompt(example: dict[str, Any]) -> dict[str, Any]:
        prompt = []
        for m in example["messages"]:
            if m.get("role") == "assistant":
                break
            prompt.append({"role": m["role"], "content": m.get("content") or ""})
        return {"prompt": prompt}

    return ds.map(to_prompt, remove_columns=["messages"])


def tool_names(ds: Any, location: str) -> list[str]:
    """The tools the training conversations offer the model (the run records them: a model trained on
    Claude Code's native tools and one trained on the gym's `bash` are evaluated differently)."""
    if location.startswith(GYM_PREFIX):
        from bashgym.gym.protocol import BASH_TOOL

        return [BASH_TOOL["function"]["name"]]
    if "tools" not in ds.column_names:
        return []
    names: set[str] = set()
    for tools in ds["tools"]:
        if isinstance(tools, str):
            tools = orjson.loads(tools) if tools.strip() else []
        for spec in tools or []:
            name = (spec.get("function") or spec).get("name") if isinstance(spec, dict) else None
            if isinstance(name, str):
                names.add(name)
    return sorted(names)


GYM_PREFIX = "gym:"


def gym_prompts(ref: str) -> Any:
    """`gym:<suite>` → one GRPO prompt per gym task, with the `task_id`/`suite` columns the gym's rewards read."""
    from datasets import Dataset

    from bashgym.errors import require

    require("gymnasium", "gym")
    from bashgym.gym.rewards import task_prompt_rows

    rows = task_prompt_rows(ref[len(GYM_PREFIX):] or "builtin")
    if not rows:
        raise NotFoundError(f"gym suite {ref!r} has no tasks")
    return Dataset.from_list(rows)


def load_training_data(ref: str, store: Store, kind: str, eval_split: str | None = None) -> TrainingData:
    if ref.startswith(GYM_PREFIX):
        if kind != "grpo":
            raise ConfigError(f"dataset {ref!r} holds task prompts without answers: use it with `bashgym train grpo`")
        return TrainingData(train=gym_prompts(ref), eval=None, dataset_id=None, location=ref)
    dataset_id, path = resolve_dataset(ref, store)
    splits = load_splits(path)
    if "train" not in splits:
        raise NotFoundError(f"{path} has no train split (found: {', '.join(splits)})")
    if eval_split is not None and eval_split not in splits:
        raise ConfigError(f"eval_split {eval_split!r} not found in {path} (found: {', '.join(splits)})")
    # GRPO evaluation generates completions (slow): only when a split is named explicitly.
    default_eval = "validation" if "validation" in splits and kind != "grpo" else None
    chosen_eval = eval_split or default_eval
    train, evald = splits["train"], splits.get(chosen_eval) if chosen_eval else None
    check_columns(train, kind, str(path))
    if kind == "grpo":
        if "prompt" not in train.column_names:
            train = prompts_from_messages(train)
            evald = prompts_from_messages(evald) if evald is not None else None
        # GRPO renders prompts itself; a `tools` column would ask it to run tools it does not have.
        train = train.remove_columns([c for c in ("tools",) if c in train.column_names])
        if evald is not None:
            evald = evald.remove_columns([c for c in ("tools",) if c in evald.column_names])
    return TrainingData(train=train, eval=evald, dataset_id=dataset_id, location=str(path), eval_split=chosen_eval)
