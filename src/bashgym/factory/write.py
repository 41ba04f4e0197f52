"""Write a split dataset: JSONL (exact rows), Parquet and an HF `datasets.DatasetDict` (save_to_disk).

All three share one Arrow schema, inferred from every row of every split, so an empty split still loads
with the same columns. The content hash is over the JSONL bytes, so it changes exactly when the data does.
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
    """Write every split; returns {"files": [...], "content_hash": ..., "rows": {split: n}}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    digest = hashlib.sha256()
    clean = {name: [public(r) for r in splits.get(name, [])] for name in SPLITS}
    for name in SPLITS:
        data = b"".join(orjson.dumps(r, default=str) + b"\n" for r in clean[name])
        digest.update(name.encode() + b"\0" + data)
        if cfg.jsonl:
            (out_dir / f"{name}.jsonl").write_bytes(data)
            files.append(f"{name}.jsonl")
    if cfg.parquet or cfg.hf:
        dd = to_dataset_dict(clean)
        if cfg.parquet:
            for name in SPLITS:
                dd[name].to_parquet(str(out_dir / f"{name}.parquet"))
                files.append(f"{name}.parquet")
        if cfg.hf:
            # One shard per split: datasets writes an empty split with no shard and cannot load it back.
            dd.save_to_disk(str(out_dir / "hf"), num_shards={name: 1 for name in SPLITS})
            files.append("hf/")
    return {"files": files, "content_hash": digest.hexdigest(), "rows": {n: len(clean[n]) for n in SPLITS}}


def to_dataset_dict(splits: dict[str, list[dict[str, Any]]]) -> Any:
    """A DatasetDict with one schema across splits (inferred from all rows together)."""
    require("datasets", "factory")
    import pyarrow as pa
    from datasets import Dataset, DatasetDict
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # the CLI draws its own progress; datasets' bars would interleave with it

    everything = [r for name in SPLITS for r in splits.get(name, [])]
    if not everything:
        return DatasetDict({name: Dataset.from_dict({}) for name in SPLITS})
    columns = list(dict.fromkeys(k for r in everything for k in r))
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in everything])
    out = {}
    start = 0
    for name in SPLITS:
        n = len(splits.get(name, []))
        out[name] = Dataset(table.slice(start, n))
        start += n
    return DatasetDict(out)
