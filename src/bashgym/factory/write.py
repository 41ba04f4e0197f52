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
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from bashgym.errors import require
from bashgym.factory.config import WriteConfig
from bashgym.factory.split import SPLITS

if TYPE_CHECKING:
    from bashgym.factory.copy_writer import CopyWriter


def public(row: dict[str, Any]) -> dict[str, Any]:
    """The row without the factory's private keys (those starting with '_')."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


class RowSpill:
    """A build's rows on their way to disk, in the order they are made: each row's public JSONL line goes to
    a spill file, and only what the split and the record need stays in memory (groups, sessions, source,
    the rows' count). The driver's memory is then bounded by that, not by the dataset (issue 21: a 1 GB
    build held every row, and its JSONL, Parquet and Arrow copies, at once)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("wb")
        self.groups: list[list[str]] = []
        self.sessions: set[str] = set()
        self.sources: dict[str, int] = {}
        self.leftover: dict[int, list[tuple[str, str]]] = {}  # row index -> what the shard's lint found

    def add(self, row: dict[str, Any]) -> None:
        from bashgym.factory.split import row_groups

        self.groups.append(row_groups(row))
        self.sessions.update(row.get("_sessions") or [])
        if row.get("source"):
            self.sources[row["source"]] = self.sources.get(row["source"], 0) + 1
        if row.get("_leftover"):
            self.leftover[len(self.groups) - 1] = [tuple(f) for f in row["_leftover"]]
        self._file.write(orjson.dumps(public(row), default=str) + b"\n")

    def __len__(self) -> int:
        return len(self.groups)

    def leftover_by_row(self, where: list[str]) -> dict[tuple[str, int], list[tuple[str, str]]]:
        """The leftover values found per row, keyed by (split, 1-based row of that split's file), once `where`
        (each row's split) is known."""
        out, seen = {}, dict.fromkeys(set(where), 0)
        for index, split in enumerate(where):
            seen[split] += 1
            if index in self.leftover:
                out[(split, seen[split])] = self.leftover[index]
        return out

    def close(self) -> None:
        self._file.close()


def write_spilled(spill: RowSpill, where: list[str], out_dir: Path, cfg: WriteConfig,
                  copier: CopyWriter | None = None) -> dict[str, Any]:
    """Write every split of the spilled rows (`where`: each row's split), streaming: the JSONL lines are copied to
    their split's file, hashed from disk, and Parquet / `datasets` files are written from those files in
    batches (by `copier`'s process when given: factory/copy_writer.py). Returns {"files": [...], "content_hash": ..., "rows": {split: n},
    "sha256": {file: hash}} (the hashes `dataset push` checks the files against before uploading them); the JSONL files stay even when
    `cfg.jsonl` is off (not listed in "files"): the caller lints them, then removes them."""
    spill.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.jsonl" for name in SPLITS}
    outs = {name: p.open("wb") for name, p in paths.items()}
    counts = dict.fromkeys(SPLITS, 0)
    try:
        with spill.path.open("rb") as lines:
            for line, name in zip(lines, where, strict=True):
                outs[name].write(line)
                counts[name] += 1
    finally:
        for f in outs.values():
            f.close()
    spill.path.unlink()
    files: list[str] = []
    sha256: dict[str, str] = {}
    digest = hashlib.sha256()
    for name in SPLITS:
        file_hash = hashlib.sha256()
        digest.update(name.encode() + b"\0")
        with paths[name].open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                file_hash.update(chunk)
        if cfg.jsonl:
            files.append(f"{name}.jsonl")
            sha256[f"{name}.jsonl"] = file_hash.hexdigest()
    if cfg.parquet or cfg.hf:
        if copier is not None:
            more, more_sha = copier.write(paths, out_dir, parquet=cfg.parquet, hf=cfg.hf)
        else:
            more, more_sha = write_copies(paths, out_dir, parquet=cfg.parquet, hf=cfg.hf)
        files += more
        sha256.update(more_sha)
    return {"files": files, "content_hash": digest.hexdigest(), "rows": counts, "sha256": sha256}


def write_copies(paths: dict[str, Path], out_dir: Path, *, parquet: bool, hf: bool) -> tuple[list[str], dict[str, str]]:
    """The Parquet files and the `hf/` DatasetDict of the split JSONL files `paths`, under `out_dir`: the
    files written (as listed in the record) and the Parquet files' sha256."""
    files: list[str] = []
    sha256: dict[str, str] = {}
    dd = _dataset_dict_from_files(paths, out_dir / ".arrow")
    if parquet:
        for name in SPLITS:
            dd[name].to_parquet(str(out_dir / f"{name}.parquet"))
            files.append(f"{name}.parquet")
            sha256[f"{name}.parquet"] = _file_sha256(out_dir / f"{name}.parquet")
    if hf:
        dd.save_to_disk(str(out_dir / "hf"), num_shards={name: 1 for name in SPLITS})
        files.append("hf/")
    del dd
    shutil.rmtree(out_dir / ".arrow", ignore_errors=True)
    return files, sha256


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL file, one at a time."""
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


BATCH = 2000  # rows per batch when inferring and writing Arrow from a spilled split


def _dataset_dict_from_files(paths: dict[str, Path], tmp: Path) -> Any:
    """A DatasetDict with one schema across splits (as `dataset_from_rows` infers it), from the split JSONL
    files and in batches: the plain columns'
    types inferred batch by batch and unified, each split written to a memory-mapped Arrow file."""
    require("datasets", "factory")
    import pyarrow as pa
    from datasets import Dataset, DatasetDict, Features, Json, List
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    columns: dict[str, None] = {}  # in order of first appearance over the splits, as `dataset_from_rows`
    as_json: set[str] = set()
    schemas = []
    for name in SPLITS:
        for batch in _batches(iter_jsonl(paths[name])):
            listed = set()
            for r in batch:
                for key, value in r.items():
                    columns.setdefault(key)
                    if key in JSON_LIST_COLUMNS and isinstance(value, list):
                        listed.add(key)
            keys = [c for c in columns if c not in listed and c not in as_json]
            as_json |= listed
            schemas.append(pa.Table.from_pylist([{c: r.get(c) for c in keys} for r in batch]).schema)
    plain = [c for c in columns if c not in as_json]
    schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
    inferred = Features.from_arrow_schema(pa.schema([schema.field(c) for c in plain])) if plain else {}
    features = Features({c: List(Json()) if c in as_json else inferred[c] for c in columns})
    tmp.mkdir(parents=True, exist_ok=True)
    order, arrow_schema = list(columns), features.arrow_schema
    # pyarrow makes no JSON extension values from Python objects: JSON text as strings, then cast
    storage = pa.schema([pa.field(f.name, pa.list_(pa.string())) if f.name in as_json else f for f in arrow_schema])
    out = {}
    for name in SPLITS:
        # Arrow batches straight from the file, as `datasets` stores a Json value (its JSON text), into the
        # stream file `datasets` memory-maps: `Dataset.from_generator` encoded the same row by row in Python
        # (measured: most of a 5 MB build's Parquet write).
        arrow = tmp / f"{name}.arrow"
        with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_stream(sink, arrow_schema) as writer:
            for batch in _batches(iter_jsonl(paths[name])):
                writer.write_table(pa.Table.from_pylist(
                    [{c: _json_list(r.get(c)) if c in as_json else r.get(c) for c in order} for r in batch],
                    schema=storage).cast(arrow_schema))
        out[name] = Dataset.from_file(str(arrow))
    return DatasetDict(out)


def _json_list(value: Any) -> Any:
    """A `List(Json())` value as `datasets` encodes it: each item's JSON text (a string that already is JSON
    stays as it is, as `datasets.Json` keeps it)."""
    if not isinstance(value, list):
        return value
    return [item if isinstance(item, str) and _is_json(item) else orjson.dumps(item, default=str).decode()
            for item in value]


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


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
