"""Build a dataset: store → select → segment → redact → dedup → decontaminate → shape → format → split →
write, recorded in the store with its config, counts, content hash and source sessions.

The steps are one `Pipeline` (factory/pipeline.py), whatever runs it: the sessions are cut into shards of
consecutive ids and an executor (bashgym.scale.executor) runs each shard's pass — reading, selecting,
segmenting, redacting, dedup keys, and ahead of dedup's verdict decontamination, tool shaping and formatting
— in this process, in `--workers` processes, or on Ray Data (`--engine ray`). This process merges the shards
in order: it decides dedup (global and exact), adds the counts, and numbers the placeholders. Every shard's
Redactor writes provisional placeholders keyed by the build (the same value gets the same one everywhere);
the rows are numbered (`<SECRET_1>`, …) in the order they are written, so every engine writes the same bytes.
"""

from __future__ import annotations

import gc
import json
import secrets
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bashgym.errors import BashgymError
from bashgym.factory.apply_redaction import Redact, RedactionTally, redactor_settings
from bashgym.factory.card import render_card
from bashgym.factory.config import DatasetConfig
from bashgym.factory.copy_writer import copy_writer
from bashgym.factory.decontaminate import Decontaminate
from bashgym.factory.dedup import Dedup
from bashgym.factory.formats import ROWS_VERSION, Format
from bashgym.factory.lint import leftover_secrets, lint_config, lint_rows
from bashgym.factory.pipeline import Gate, Pipeline, PipelineStep, Shard
from bashgym.factory.redact import Redactor, Renumber
from bashgym.factory.segment import Segment
from bashgym.factory.select import (
    ALL_TIERS,
    SELECTION_RULES,
    ExampleSelect,
    SessionSelect,
    format_family,
    read_sessions,
    resolve_tiers,
)
from bashgym.factory.shape import ShapeTools
from bashgym.factory.split import SPLITS, assign_rows
from bashgym.factory.write import RowSpill, iter_jsonl, write_spilled
from bashgym.paths import home_dir
from bashgym.scale.executor import map_shards
from bashgym.schema import SCHEMA_VERSION
from bashgym.store import Store, now_iso

Progress = Callable[[int, int], None]


def datasets_dir() -> Path:
    return home_dir() / "datasets"


@dataclass(frozen=True)
class BuildSpec:
    """All a shard's pass needs, wherever it runs (a worker process, a Ray node): the store's location, the
    config, and the Redactor's settings resolved in the process that runs the build (its user, home,
    hostname and lists; a key for provisional placeholders, drawn for this build and never stored)."""

    location: str
    cfg: dict[str, Any]
    redactor: dict[str, Any] | None
    lint: dict[str, Any] | None = None  # the lint's Redactor settings: it looks for leftover values per row


def build_pipeline(spec: BuildSpec) -> Pipeline:
    """The build's steps, in order, and its format as the sink."""
    cfg = DatasetConfig.model_validate(spec.cfg)
    steps: list[PipelineStep] = [SessionSelect(cfg.select), Segment(cfg.segment), ExampleSelect(cfg.select)]
    if spec.redactor is not None:
        steps.append(Redact(Redactor(**spec.redactor)))
    if cfg.dedup.exact or cfg.dedup.near:
        steps.append(Dedup(cfg.dedup))
    if cfg.decontaminate.enabled:
        steps.append(Decontaminate(cfg.decontaminate))
    steps.append(ShapeTools(cfg.shape))
    return Pipeline(steps, sink=Format(cfg.format, cfg.shape))


_WORKER: dict[str, Any] = {}  # per process: the pipeline and read-only store of the build it last worked for


def run_shard(spec: BuildSpec, ids: list[str], memo: Any = None, decide: Gate | None = None) -> Shard:
    """One shard's pass over the build's pipeline (see `Pipeline.run_shard`); its `extra` says how many
    sessions it read and, when redacting, its redaction tally. `memo`: dedup's scratch, shared by shards that
    run one after another in this process (else each shard has its own); `decide`: the merge's dedup, when
    the shards run in the merging process (dedup decides in the shard)."""
    if _WORKER.get("spec") != spec:
        release_worker()
        _WORKER.update(spec=spec, pipeline=build_pipeline(spec), store=Store(spec.location, readonly=True),
                       lint=Redactor(**spec.lint) if spec.lint is not None else None)
        gc.freeze()  # the pipeline, its compiled rules and the imports: never garbage, left out of GC scans
    pipe: Pipeline = _WORKER["pipeline"]
    redact = next((s for s in pipe.steps if isinstance(s, Redact)), None)
    if redact is not None:
        redact.begin_shard()
    scorer = DatasetConfig.model_validate(spec.cfg).select.scorer

    def extra() -> dict[str, Any]:
        return {"sessions": len(ids), "redaction": redact.shard_tally() if redact is not None else None}

    source = read_sessions(_WORKER["store"], ids, scorer=scorer)
    shard = pipe.run_shard(source, extra=extra, memo=memo, decide=decide)
    lint = _WORKER["lint"]
    if lint is not None and pipe.per_example_sink:  # else the rows are made in the merge
        for rec in shard.records:
            if rec.out is not None:
                mark_leftover(rec.out, lint)
    return shard


def mark_leftover(row: dict[str, Any], lint: Any) -> dict[str, Any]:
    """The lint's costly rule, where the row is made rather than after the write: the values the redactor
    still finds in the row, under its private `_leftover` key (the lint's structure rules stay after the
    write: they are cheap)."""
    if found := leftover_secrets(row, lint):
        row["_leftover"] = found
    return row


def release_worker() -> None:
    """Close the store a shard's pass left open in this process."""
    if _WORKER.get("store") is not None:
        _WORKER["store"].close()
    _WORKER.clear()


# Shards per worker: a process pool hands a shard over in well under a millisecond, so many small shards keep
# every worker busy to the end; a Ray Data task costs tens of milliseconds to schedule and return, and on 2 cores
# a 12 MB build on 2 Ray workers took 6.0-6.4 s with 16 shards a worker and 4.7 s with 4 (1 worker: 6.7-7.0 s
# and 6.2-6.4 s).
SHARDS_PER_WORKER = {"local": 16, "ray": 4}


def shard_ids(ids: list[str], workers: int, per_worker: int = SHARDS_PER_WORKER["local"]) -> list[list[str]]:
    """Consecutive runs of ids, small enough to keep every worker busy to the end, big enough to amortise
    the hand-over (about `per_worker` shards per worker, at most 256 sessions each)."""
    size = max(1, min(256, -(-len(ids) // (max(1, workers) * per_worker))))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def run_pipeline(store: Store, cfg: DatasetConfig, *, redact: bool = True, workers: int = 1,
                 engine: str = "local", ray_address: str | None = None, on_progress: Progress | None = None,
                 on_engine: Callable[[dict[str, Any]], None] | None = None,
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and a report ({"steps": [...], "redaction": {...}, "sessions_read": n}) for a config, the same
    on every engine. (A build streams them instead: `pipeline_rows`.)"""
    rows, finish = pipeline_rows(store, cfg, redact=redact, workers=workers, engine=engine,
                                 ray_address=ray_address, on_progress=on_progress, on_engine=on_engine)
    return list(rows), finish()


def pipeline_rows(store: Store, cfg: DatasetConfig, *, redact: bool = True, workers: int = 1,
                  engine: str = "local", ray_address: str | None = None, on_progress: Progress | None = None,
                  on_engine: Callable[[dict[str, Any]], None] | None = None, lint: bool = False,
                  ) -> tuple[Iterator[dict[str, Any]], Callable[[], dict[str, Any]]]:
    """The build's rows, one at a time in their final order (placeholders numbered), and a function giving
    the report once they have all been taken. `lint`: the shards also look for leftover values in each row
    (its private `_leftover` key; the report says whether they did, `leftover_checked`)."""
    ids = list(store.iter_session_ids(parent=""))
    token_key = secrets.token_bytes(16)  # this build's alone, never stored: provisional placeholders only
    settings = redactor_settings(cfg.redact.user_names, cfg.redact.extra_patterns, token_key)
    spec = BuildSpec(store.location, cfg.model_dump(), settings if redact else None,
                     {**settings, "token_key": None} if lint else None)
    parallel = engine == "ray" or workers > 1
    if engine == "ray" and workers <= 0:
        from bashgym.scale.cluster import connect_ray

        per = connect_ray(ray_address)["cpus"]
    else:
        per = workers if parallel else 1
    shards = shard_ids(ids, per if parallel else 1, SHARDS_PER_WORKER.get(engine, SHARDS_PER_WORKER["local"]))
    merging = build_pipeline(spec)  # decides dedup and adds the counts, in this process
    # in this process, each shard runs just before its merge: dedup decides in the shard (no work on duplicates)
    gate = merging.gate
    fn = partial(run_shard, spec) if parallel else partial(run_shard, spec, memo=gate and gate.new_memo(), decide=gate)
    late_lint: Redactor | None = None  # the lint's Redactor here, made for the first deferred example dedup keeps

    def on_late(row: dict[str, Any]) -> dict[str, Any]:
        nonlocal late_lint
        if spec.lint is None:
            return row
        if late_lint is None:
            late_lint = Redactor(**spec.lint)
        return mark_leftover(row, late_lint)
    tally = RedactionTally()
    done = 0

    def merged(shard: Shard) -> None:
        nonlocal done
        gc.freeze()  # see rows()
        if shard.extra["redaction"] is not None:
            tally.add(shard.extra["redaction"])
        done += shard.extra["sessions"]
        if on_progress:
            on_progress(done, len(ids))

    def rows() -> Iterator[dict[str, Any]]:
        # What this process keeps for the whole build (dedup's index, the split keys, caches) grows with the
        # store, and Python's cyclic GC scanned all of it again and again: 30% of a 40 MB build in one
        # process, more per MB the bigger the store. Frozen after each shard, it is left out of those scans
        # (objects are still freed as their references go; cyclic garbage waits for the build's end).
        was_frozen = gc.get_freeze_count()
        gc.freeze()
        try:
            results = map_shards(fn, shards, engine=engine, workers=workers, ray_address=ray_address,
                                 on_engine=on_engine)
            renumber = Renumber() if redact else None  # placeholders numbered in the order the rows show them
            for row in merging.merge(results, on_shard=merged, on_late=on_late):
                yield renumber.obj(row) if renumber else row
        finally:
            release_worker()
            if not was_frozen:
                gc.unfreeze()

    def finish() -> dict[str, Any]:
        report = tally.report() if redact else {}
        return {"steps": merging.stats(), "redaction": report, "sessions_read": len(ids),
                "leftover_checked": lint and merging.per_example_sink}

    return rows(), finish


def build_dataset(store: Store, cfg: DatasetConfig, *, redact: bool = True, workers: int = 1,
                  engine: str = "local", ray_address: str | None = None, on_progress: Progress | None = None,
                  on_engine: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Build, write and record a dataset; returns its store record.

    With no tiers asked for (--tier / YAML), the selection follows the judge: the format's default tiers
    (`select.DEFAULT_TIERS`); what was excluded and why is recorded in `counts["selection"]` and the card.
    """
    redact = redact and cfg.redact.enabled
    tiers, chosen_by = resolve_tiers(cfg.format, cfg.select.tiers)
    cfg = cfg.model_copy(deep=True)
    cfg.select.tiers = tiers  # type: ignore[assignment]
    version = store.next_dataset_version(cfg.name)
    dataset_id = f"ds-{cfg.name}-v{version}"
    final = datasets_dir() / dataset_id
    partial = final.with_name(dataset_id + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        copier = copy_writer() if cfg.write.parquet or cfg.write.hf else None  # warms up while the rows are made
        rows, finish = pipeline_rows(store, cfg, redact=redact, workers=workers, engine=engine,
                                     ray_address=ray_address, on_progress=on_progress, on_engine=on_engine,
                                     lint=True)
        spill = RowSpill(partial / ".rows.jsonl")  # rows go to disk as they come: bounded memory here
        try:
            for row in rows:
                spill.add(row)
        finally:
            spill.close()
        report = finish()
        selection = _selection(cfg, chosen_by, report["steps"])
        if not len(spill):
            dropped = "; ".join(
                f"{s['name']}: " + ", ".join(f"{k} {v}" for k, v in s["dropped"].items())
                for s in report["steps"] if s["dropped"]
            )
            unscored = selection["excluded"].get("unscored", 0)
            raise BashgymError(
                f"no examples left to write from {report['sessions_read']} sessions"
                + (f" (dropped — {dropped})" if dropped else "")
                + (f"; {unscored} example(s) were never judged: run `bashgym judge` first" if unscored else "")
                + "; loosen the selection (--tier, dataset.yaml) or import more sessions"
            )
        examples = len(spill)
        where = assign_rows(spill.groups, cfg.split)
        written = write_spilled(spill, where, partial, cfg.write, copier)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    sessions = sorted(spill.sessions)
    sources = Counter(spill.sources)
    config = cfg.model_dump()
    config["redact"]["enabled"] = redact
    settings = lint_config(config, redact, redactor=not report["leftover_checked"])
    lint = lint_rows({name: iter_jsonl(partial / f"{name}.jsonl") for name in SPLITS}, cfg.format,
                     leftover=spill.leftover_by_row(where) if report["leftover_checked"] else None,
                     **settings).to_dict()
    if not cfg.write.jsonl:
        for name in SPLITS:
            (partial / f"{name}.jsonl").unlink()
    counts = {
        "rows": written["rows"], "examples": examples, "sessions": len(sessions),
        "sessions_read": report["sessions_read"], "sources": dict(sources), "steps": report["steps"],
        "redaction": _summary(report["redaction"]), "files": written["files"], "selection": selection,
        "file_sha256": written["sha256"],  # `dataset push` uploads a file only if it still has this hash
        "rows_version": ROWS_VERSION, "lint": {k: lint[k] for k in ("errors", "warnings", "counts")},
    }
    record = {"id": dataset_id, "name": cfg.name, "version": version, "path": str(final), "config": config,
              "counts": counts, "content_hash": written["content_hash"], "redacted": redact,
              "created_at": now_iso()}
    (partial / "redaction.json").write_text(_indented_json(report["redaction"]))
    (partial / "stats.json").write_text(json.dumps(
        {"rows_version": ROWS_VERSION, "schema_version": SCHEMA_VERSION, "steps": report["steps"],
         "lint": counts["lint"]}, indent=2))
    (partial / "lint.json").write_text(_indented_json(lint))
    (partial / "README.md").write_text(render_card(record))
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    store.add_dataset(dataset_id, name=cfg.name, version=version, path=str(final), config=config, counts=counts,
                      content_hash=written["content_hash"], redacted=redact, session_ids=sessions)
    return record


def rows_version(record: dict[str, Any]) -> int:
    """The rows version a dataset was written with (formats.ROWS_VERSION): from its record, else its
    stats.json; datasets from before versions were recorded (stats.json a bare list) are version 1."""
    version = (record.get("counts") or {}).get("rows_version")
    if version is None:
        try:
            stats = json.loads((Path(record["path"]) / "stats.json").read_text())
        except (OSError, ValueError):
            stats = None
        version = stats.get("rows_version") if isinstance(stats, dict) else None
    return int(version or 1)


def is_outdated(record: dict[str, Any]) -> bool:
    """True when a dataset's rows were written by an older factory than this one (rebuild it)."""
    return rows_version(record) < ROWS_VERSION


def rebuild_dataset(store: Store, record: dict[str, Any], *, workers: int = 1, engine: str = "local",
                    ray_address: str | None = None, on_progress: Progress | None = None,
                    on_engine: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Build a dataset again from the config it recorded (a new version of the same name)."""
    from pydantic import ValidationError

    config = dict(record.get("config") or {})
    redact = bool((config.get("redact") or {}).get("enabled", record.get("redacted", True)))
    if not (config.get("select") or {}).get("tiers") and "selection" not in (record.get("counts") or {}):
        # built before datasets followed the judge, when no tiers meant every tier: keep meaning that
        config["select"] = {**(config.get("select") or {}), "tiers": list(ALL_TIERS)}
    try:
        cfg = DatasetConfig.model_validate(config)
    except ValidationError as exc:
        raise BashgymError(f"{record['id']}: its recorded config no longer validates ({exc.errors()[0]['msg']} at "
                           f"{'.'.join(map(str, exc.errors()[0]['loc']))}); build it again with "
                           "`bashgym dataset build --config dataset.yaml`") from None
    return build_dataset(store, cfg, redact=redact, workers=workers, engine=engine, ray_address=ray_address,
                         on_progress=on_progress, on_engine=on_engine)


def _selection(cfg: DatasetConfig, chosen_by: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """What the build kept by quality and what it left out: tiers, why, excluded per tier, judge flags."""
    st = next((s for s in steps if s["name"] == ExampleSelect.name), {"dropped": {}, "counters": {}})
    excluded = {t: st["dropped"][f"tier:{t}"] for t in ALL_TIERS if st["dropped"].get(f"tier:{t}")}
    flags = {k.split(":", 1)[1]: v for k, v in (st.get("counters") or {}).items() if k.startswith("flag:")}
    family = format_family(cfg.format)
    return {"tiers": list(cfg.select.tiers or []), "chosen_by": chosen_by,
            "rule": SELECTION_RULES[family] if chosen_by == "default" else f"tiers asked for: "
            f"{', '.join(cfg.select.tiers or [])}" + (f"; {SELECTION_RULES[family]}" if family != "sft" else ""),
            "excluded": excluded, "flags": flags}


def _indented_json(value: Any) -> str:
    """`json.dumps(value, indent=2, default=str)`, byte for byte, via orjson when that gives the same text
    (ASCII only, string keys): the redaction report lists every finding, and the stdlib takes seconds."""
    import orjson

    try:
        data = orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2)
    except TypeError:
        return json.dumps(value, indent=2, default=str)
    return data.decode() if data.isascii() else json.dumps(value, indent=2, default=str)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The redaction report without its long list of locations (that stays in redaction.json)."""
    return {k: v for k, v in report.items() if not isinstance(v, list)} | (
        {"findings": len(report.get("findings") or report.get("where") or [])} if report else {})
