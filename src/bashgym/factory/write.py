"""Write a split dataset: JSONL (exact rows), Parquet and an HF `datasets.DatasetDict` (save_to_disk).

All three share one Arrow schema, inferred from every row of every split, so an empty split still loads
with the same columns. The content hash is over the JSONL bytes, so it changes exactly when the data does.

Conversation columns (`messages`, `prompt`, `chosen`, …: lists of messages whose tool-call arguments are
objects of a different shape per tool) are stored as `datasets.Json` values: Arrow would otherwise unify
every tool's arguments into one struct and read `{"command": "ls"}` back as `{"command": "ls",
"file_path": null, …}`. Each message reads back exactly as written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from bashgym.errors import require
from bashgym.factory.config import WriteConfig
from bashgym.factory.split import SPLITS


def public(row: dict[str, Any]) -> dict[str, Any]:
    """The row without the factory's private keys (those starting with '_')."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def write_splits(splits: dict[str, list[dict[str, Any]]], out_dir: Path, cfg: WriteConfig) -> dict[str, Any]:
    """Write every split; returns {"files": [...], "content_hash": ..., "rows": {split: n},
    "sha256": {file: hash}} (the hashes `dataset push` checks the files against before uploading them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    sha256: dict[str, str] = {}
    digest = hashlib.sha256()
    clean = {name: [public(r) for r in splits.get(name, [])] for name in SPLITS}
    for name in SPLITS:
        data = b"".join(orjson.dumps(r, default=str) + b"\n" for r in clean[name])
        digest.update(name.encode() + b"\0" + data)
        if cfg.jsonl:
            (out_dir / f"{name}.jsonl").write_bytes(data)
            files.append(f"{name}.jsonl")
            sha256[f"{name}.jsonl"] = hashlib.sha256(data).hexdigest()
    if cfg.parquet or cfg.hf:
        dd = to_dataset_dict(clean)
        if cfg.parquet:
            for name in SPLITS:
                dd[name].to_parquet(str(out_dir / f"{name}.parquet"))
                files.append(f"{name}.parquet")
                sha256[f"{name}.parquet"] = hashlib.sha256((out_dir / f"{name}.parquet").read_bytes()).hexdigest()
        if cfg.hf:
            # One shard per split: datasets writes an empty split with no shard and cannot load it back.
            dd.save_to_disk(str(out_dir / "hf"), num_shards={name: 1 for name in SPLITS})
            files.append("hf/")
    return {"files": files, "content_hash": digest.hexdigest(), "rows": {n: len(clean[n]) for n in SPLITS},
            "sha256": sha256}


# Columns holding lists of JSON objects of varying shape: messages, tool specs, trajectory steps.
JSON_LIST_COLUMNS = ("messages", "prompt", "completion", "chosen", "rejected", "tools", "conversations",
                     "content", "steps", "subagent_trajectories")


def dataset_from_rows(rows: list[dict[str, Any]]) -> Any:
    """A `datasets.Dataset` of the rows, with every column in JSON_LIST_COLUMNS that holds lists stored as
    a list of `Json` values (objects read back exactly as written), the others inferred by Arrow."""
    require("datasets", "factory")
    import pyarrow as pa
    from datasets import Dataset, Features, Json, List

    columns = list(dict.fromkeys(k for r in rows for k in r))
    as_json = {c for c in columns if c in JSON_LIST_COLUMNS and any(isinstance(r.get(c), list) for r in rows)}
    plain = [c for c in columns if c not in as_json]
    inferred = Dataset(pa.Table.from_pylist([{c: r.get(c) for c in plain} for r in rows])).features if plain else {}
    features = Features({c: List(Json()) if c in as_json else inferred[c] for c in columns})
    return Dataset.from_list([{c: r.get(c) for c in columns} for r in rows], features=features)


def to_dataset_dict(splits: dict[str, list[dict[str, Any]]]) -> Any:
    """A DatasetDict with one schema across splits (inferred from all rows together)."""
    require("datasets", "factory")
    from datasets import Dataset, DatasetDict
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # the CLI draws its own progress; datasets' bars would interleave with it

    everything = [r for name in SPLITS for r in splits.get(name, [])]
    if not everything:
        return DatasetDict({name: Dataset.from_dict({}) for name in SPLITS})
    whole = dataset_from_rows(everything)
    out = {}
    start = 0
    for name in SPLITS:
        n = len(splits.get(name, []))
        out[name] = whole.select(range(start, start + n) if n else [])
        start += n
    return DatasetDict(out)
