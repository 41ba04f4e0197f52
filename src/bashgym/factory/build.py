"""Build a dataset: store → select → segment → redact → dedup → decontaminate → shape → format → split →
write, recorded in the store with its config, counts, content hash and source sessions.

With `workers > 1` the per-session work (reading, selecting, segmenting, redacting, MinHash signatures)
runs in a process pool over shards of session ids; dedup and everything after it stay in this process,
since they need to see every example. Each worker has its own Redactor, so a placeholder number is
consistent within a worker's shard rather than the whole build.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bashgym.errors import BashgymError
from bashgym.factory.apply_redaction import Redact, make_redactor
from bashgym.factory.card import render_card
from bashgym.factory.config import DatasetConfig
from bashgym.factory.decontaminate import Decontaminate
from bashgym.factory.dedup import Dedup, dedup_keys
from bashgym.factory.formats import Format
from bashgym.factory.pipeline import Example, PipelineStep, StepStats
from bashgym.factory.segment import Segment
from bashgym.factory.select import ExampleSelect, SessionSelect, read_sessions
from bashgym.factory.shape import ShapeTools
from bashgym.factory.split import split_rows
from bashgym.factory.write import write_splits
from bashgym.paths import home_dir
from bashgym.store import Store, now_iso

Progress = Callable[[int, int], None]


def datasets_dir() -> Path:
    return home_dir() / "datasets"


def front_steps(cfg: DatasetConfig, redact: bool) -> list[PipelineStep]:
    """The per-session part of the pipeline (what workers run)."""
    steps: list[PipelineStep] = [SessionSelect(cfg.select), Segment(cfg.segment), ExampleSelect(cfg.select)]
    if redact:
        steps.append(Redact(make_redactor(cfg.redact.user_names, cfg.redact.extra_patterns)))
    return steps


def back_steps(cfg: DatasetConfig) -> list[PipelineStep]:
    steps: list[PipelineStep] = []
    if cfg.dedup.exact or cfg.dedup.near:
        steps.append(Dedup(cfg.dedup))
    if cfg.decontaminate.enabled:
        steps.append(Decontaminate(cfg.decontaminate))
    steps.append(ShapeTools(cfg.shape))
    return steps


def chain(steps: list[PipelineStep], data: Iterable[Example]) -> Iterator[Example]:
    stream: Iterable[Example] = data
    for step in steps:
        stream = step(stream)
    return iter(stream)


def _counted(data: Iterable[Example], total: int, on_progress: Progress | None) -> Iterator[Example]:
    for i, ex in enumerate(data, 1):
        yield ex
        if on_progress:
            on_progress(i, total)


def _worker(args: tuple[str, dict[str, Any], bool, list[str]]) -> tuple[list[Example], list[dict], dict]:
    """Run the front of the pipeline over a shard of session ids in a pool process."""
    db, cfg_data, redact, ids = args
    cfg = DatasetConfig.model_validate(cfg_data)
    store = Store(db, readonly=True)
    try:
        steps = front_steps(cfg, redact)
        out = []
        for ex in chain(steps, read_sessions(store, ids, scorer=cfg.select.scorer)):
            if cfg.dedup.exact or cfg.dedup.near:
                ex.meta["dedup_keys"] = dedup_keys(ex.text(), cfg.dedup.num_perm, cfg.dedup.shingle)
            out.append(ex)
        report = steps[-1].report() if redact else {}
        return out, [s.stats.to_dict() for s in steps], report
    finally:
        store.close()


def _merge_stats(dicts: list[list[dict]]) -> list[StepStats]:
    merged: list[StepStats] = []
    for per_worker in dicts:
        for i, d in enumerate(per_worker):
            if len(merged) <= i:
                merged.append(StepStats(d["name"]))
            st = merged[i]
            st.total += d["total"]
            st.kept += d["kept"]
            st.dropped.update(d["dropped"])
            st.counters.update(d.get("counters") or {})
    return merged


def _merge_reports(reports: list[dict]) -> dict[str, Any]:
    if len(reports) == 1:
        return reports[0]
    out: dict[str, Any] = {}
    for rep in reports:
        for key, value in rep.items():
            if isinstance(value, int):
                out[key] = out.get(key, 0) + value
            elif isinstance(value, dict):
                acc = out.setdefault(key, Counter())
                acc.update({k: v for k, v in value.items() if isinstance(v, int)})
            elif isinstance(value, list):
                out.setdefault(key, []).extend(value)
    return {k: dict(v) if isinstance(v, Counter) else v for k, v in out.items()}


def run_pipeline(store: Store, cfg: DatasetConfig, *, redact: bool = True, workers: int = 1,
                 on_progress: Progress | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and a report ({"steps": [...], "redaction": {...}, "sessions": n}) for a config."""
    ids = list(store.iter_session_ids(parent=""))
    back = back_steps(cfg)
    fmt = Format(cfg.format, cfg.shape)
    if workers <= 1:
        front = front_steps(cfg, redact)
        source = _counted(read_sessions(store, ids, scorer=cfg.select.scorer), len(ids), on_progress)
        rows = list(fmt.rows(chain(back, chain(front, source))))
        front_stats = [s.stats for s in front]
        report = front[-1].report() if redact else {}
    else:
        shards = [ids[i::workers] for i in range(workers)]
        cfg_data = cfg.model_dump()
        examples: list[Example] = []
        stats, reports = [], []
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = 0
            for exs, st, rep in pool.map(_worker, [(str(store.path), cfg_data, redact, s) for s in shards]):
                examples.extend(exs)
                stats.append(st)
                reports.append(rep)
                done += len(shards[len(stats) - 1])
                if on_progress:
                    on_progress(done, len(ids))
        examples.sort(key=lambda e: (e.session.started_at or "", e.id))
        rows = list(fmt.rows(chain(back, examples)))
        front_stats = _merge_stats(stats)
        report = _merge_reports(reports) if redact else {}
    steps = [s.to_dict() for s in front_stats] + [s.stats.to_dict() for s in back] + [fmt.stats.to_dict()]
    return rows, {"steps": steps, "redaction": report, "sessions_read": len(ids)}


def build_dataset(store: Store, cfg: DatasetConfig, *, redact: bool = True, workers: int = 1,
                  on_progress: Progress | None = None) -> dict[str, Any]:
    """Build, write and record a dataset; returns its store record."""
    redact = redact and cfg.redact.enabled
    rows, report = run_pipeline(store, cfg, redact=redact, workers=workers, on_progress=on_progress)
    if not rows:
        dropped = "; ".join(
            f"{s['name']}: " + ", ".join(f"{k} {v}" for k, v in s["dropped"].items())
            for s in report["steps"] if s["dropped"]
        )
        raise BashgymError(
            f"no examples left to write from {report['sessions_read']} sessions"
            + (f" (dropped — {dropped})" if dropped else "")
            + "; loosen the selection in dataset.yaml or import more sessions"
        )
    splits = split_rows(rows, cfg.split)
    version = store.next_dataset_version(cfg.name)
    dataset_id = f"ds-{cfg.name}-v{version}"
    final = datasets_dir() / dataset_id
    partial = final.with_name(dataset_id + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    written = write_splits(splits, partial, cfg.write)
    sessions = sorted({sid for r in rows for sid in r.get("_sessions") or []})
    sources = Counter(r.get("source") for r in rows if r.get("source"))
    counts = {
        "rows": written["rows"], "examples": len(rows), "sessions": len(sessions),
        "sessions_read": report["sessions_read"], "sources": dict(sources), "steps": report["steps"],
        "redaction": _summary(report["redaction"]), "files": written["files"],
    }
    config = cfg.model_dump()
    config["redact"]["enabled"] = redact
    record = {"id": dataset_id, "name": cfg.name, "version": version, "path": str(final), "config": config,
              "counts": counts, "content_hash": written["content_hash"], "redacted": redact,
              "created_at": now_iso()}
    (partial / "redaction.json").write_text(_indented_json(report["redaction"]))
    (partial / "stats.json").write_text(json.dumps(report["steps"], indent=2))
    (partial / "README.md").write_text(render_card(record))
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    store.add_dataset(dataset_id, name=cfg.name, version=version, path=str(final), config=config, counts=counts,
                      content_hash=written["content_hash"], redacted=redact, session_ids=sessions)
    return record


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
