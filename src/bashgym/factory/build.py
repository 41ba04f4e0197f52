"""Build a dataset: store → select → segment → redact → dedup → decontaminate → shape → format → split →
write, recorded in the store with its config, counts, content hash and source sessions.

With `workers > 1` every per-example step runs in worker processes over chunks of consecutive session ids
(chunk i goes to worker i mod N): reading, selecting, segmenting, redacting, dedup keys (exact hash and
MinHash), and — tentatively, for each example — decontamination, tool shaping and formatting, with the
stats each of those would count. This process only decides dedup (it needs to see every example, in
order), adds the tentative stats of the examples it keeps, and writes. Chunks come back in order, so the
rows are in the same order as a single-process build. Every process's Redactor writes provisional
placeholders keyed by the build (the same value gets the same one in every worker); the rows are numbered
(`<SECRET_1>`, …) at the end, so the output is the same as a single-process build's.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bashgym.errors import BashgymError
from bashgym.factory.apply_redaction import Redact, make_redactor
from bashgym.factory.card import render_card
from bashgym.factory.config import DatasetConfig
from bashgym.factory.decontaminate import Decontaminate
from bashgym.factory.dedup import Dedup, dedup_keys
from bashgym.factory.formats import ROWS_VERSION, SFT_FORMATTERS, Format
from bashgym.factory.lint import lint_config, lint_rows
from bashgym.factory.pipeline import Example, PipelineStep, StepStats
from bashgym.factory.redact import Renumber, distinct_by_category
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
from bashgym.factory.split import split_rows
from bashgym.factory.write import public, write_splits
from bashgym.paths import home_dir
from bashgym.schema import SCHEMA_VERSION
from bashgym.store import Store, now_iso

Progress = Callable[[int, int], None]


def datasets_dir() -> Path:
    return home_dir() / "datasets"


def front_steps(cfg: DatasetConfig, redact: bool, token_key: bytes | None = None) -> list[PipelineStep]:
    """The per-session part of the pipeline (what workers run). `token_key`: the build's key for provisional
    placeholders, shared by all its processes (see `Renumber`)."""
    steps: list[PipelineStep] = [SessionSelect(cfg.select), Segment(cfg.segment), ExampleSelect(cfg.select)]
    if redact:
        steps.append(Redact(make_redactor(cfg.redact.user_names, cfg.redact.extra_patterns, token_key)))
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


_WORKER: dict[str, Any] = {}  # per worker process: its store, steps and formatter for the build


def _worker_state(db: str, cfg_data: dict[str, Any], redact: bool, token_key: bytes | None) -> dict[str, Any]:
    key = repr((db, cfg_data, redact, token_key))
    if _WORKER.get("key") != key:
        cfg = DatasetConfig.model_validate(cfg_data)
        _WORKER.clear()
        _WORKER.update(key=key, cfg=cfg, store=Store(db, readonly=True), front=front_steps(cfg, redact, token_key),
                       post=[s for s in back_steps(cfg) if not isinstance(s, Dedup)],
                       fmt=Format(cfg.format, cfg.shape), redact=redact)
    return _WORKER


def _tentative(step: Any, ex: Example, rows: bool = False) -> tuple[list[Any], dict[str, Any]]:
    """What a per-example step makes of one example, and the stats it counted for it (to be added by the
    main process only if dedup keeps the example)."""
    before = step.stats.to_dict()
    out = list(step.rows([ex]) if rows else step([ex]))
    after = step.stats.to_dict()
    delta = {"total": after["total"] - before["total"], "kept": after["kept"] - before["kept"],
             "dropped": Counter(after["dropped"]) - Counter(before["dropped"]),
             "counters": Counter(after.get("counters") or {}) - Counter(before.get("counters") or {})}
    return out, delta


def _work_chunk(db: str, cfg_data: dict[str, Any], redact: bool, token_key: bytes | None,
                ids: list[str]) -> tuple[list[tuple], list[dict]]:
    """Everything per-example for a chunk of sessions, in a worker process: one record per example,
    (id, dedup keys, stats deltas of the later steps, the example if the format needs the whole set, its row),
    and where the chunk's redactions were (so the build's report lists them in session order)."""
    state = _worker_state(db, cfg_data, redact, token_key)
    redactor = state["front"][-1].redactor if redact else None
    seen = len(redactor.findings) if redactor else 0
    cfg: DatasetConfig = state["cfg"]
    fmt: Format = state["fmt"]
    per_example = cfg.format in SFT_FORMATTERS
    # exact keys this worker has met: the main process saw them too (in an earlier chunk or earlier in this
    # one), so an example holding one is an exact duplicate there and needs no MinHash nor later steps
    seen_keys: set[str] = state.setdefault("seen_keys", set()) if cfg.dedup.exact else set()
    records = []
    for ex in chain(state["front"], read_sessions(state["store"], ids, scorer=cfg.select.scorer)):
        ex_id = ex.id
        keys = None
        if cfg.dedup.exact or cfg.dedup.near:
            keys = dedup_keys(ex.text(), cfg.dedup.num_perm, cfg.dedup.shingle, seen=seen_keys)
            if keys[1] is None:
                records.append((ex_id, keys, [], None, None))
                continue
            if cfg.dedup.exact:
                seen_keys.add(keys[0])
        deltas = []
        items: list[Any] = [ex]
        for step in state["post"]:
            items, delta = _tentative(step, items[0])
            deltas.append(delta)
            if not items:
                break
        row = None
        if items and per_example:
            made, delta = _tentative(fmt, items[0], rows=True)
            deltas.append(delta)
            row, items = (made[0] if made else None), []
        records.append((ex_id, keys, deltas, items[0] if items else None, row))
    where = [{"kind": f.kind, "location": f.location} for f in redactor.findings[seen:]] if redactor else []
    return records, where


def _finish_worker() -> tuple[list[dict], dict, int, set[tuple[str, str]]]:
    """The front steps' stats, the redaction report (its locations come with each chunk), the redactor's
    cap on listed locations and the placeholders it handed out, of this worker process after its last chunk."""
    front = _WORKER["front"]
    _WORKER["store"].close()
    _WORKER.clear()
    if not front or not isinstance(front[-1], Redact):
        return [s.stats.to_dict() for s in front], {}, 0, set()
    report = front[-1].report()
    report.pop("locations", None)
    return [s.stats.to_dict() for s in front], report, front[-1].redactor.max_findings, \
        front[-1].redactor.placeholders()


def _add_delta(stats: StepStats, delta: dict[str, Any]) -> None:
    stats.total += delta["total"]
    stats.kept += delta["kept"]
    stats.dropped.update(delta["dropped"])
    stats.counters.update(delta["counters"])


def _chunks(ids: list[str], workers: int) -> list[list[str]]:
    """Consecutive runs of ids, small enough to keep every worker busy to the end, big enough to amortise
    the hand-over (about 16 chunks per worker, at most 256 sessions each)."""
    size = max(1, min(256, -(-len(ids) // (workers * 16))))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _run_parallel(store: Store, cfg: DatasetConfig, redact: bool, token_key: bytes, workers: int, ids: list[str],
                  back: list[PipelineStep], fmt: Format, on_progress: Progress | None,
                  ) -> tuple[list[dict[str, Any]], list[StepStats], dict]:
    chunks = _chunks(ids, workers)
    cfg_data = cfg.model_dump()
    dedup = back[0] if back and isinstance(back[0], Dedup) else None
    post = back[1:] if dedup is not None else back
    rows: list[dict[str, Any]] = []
    examples: list[Example] = []
    locations: list[dict[str, Any]] = []
    pools = [ProcessPoolExecutor(max_workers=1) for _ in range(workers)]
    try:
        # a queue, so each chunk's result (its MinHashes, its rows) is let go of once merged
        pending: deque[Future] = deque(pools[i % workers].submit(_work_chunk, store.location, cfg_data, redact,
                                                                 token_key, c) for i, c in enumerate(chunks))
        done = 0
        for chunk in chunks:
            records, where = pending.popleft().result()
            locations.extend(where)
            for ex_id, keys, deltas, ex, row in records:
                if dedup is not None:
                    dedup.stats.total += 1
                    verdict = dedup.check(ex_id, keys)
                    if verdict is not True:
                        dedup.stats.dropped[verdict[1]] += 1
                        continue
                    dedup.stats.kept += 1
                steps = [s.stats for s in post] + [fmt.stats]
                for stats, delta in zip(steps, deltas, strict=False):
                    _add_delta(stats, delta)
                if row is not None:
                    rows.append(row)
                elif ex is not None:
                    examples.append(ex)
            done += len(chunk)
            if on_progress:
                on_progress(done, len(ids))
        finals = [pool.submit(_finish_worker).result() for pool in pools[: len(chunks)]]
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)
    if cfg.format not in SFT_FORMATTERS:
        rows = list(fmt.rows(examples))
    front_stats = _merge_stats([st for st, _, _, _ in finals])
    report = _merge_reports([rep for _, rep, _, _ in finals]) if redact else {}
    if report:  # the chunks' locations in session order, capped as one redactor caps them
        # a value two workers met is one value: count distinct placeholders over all of them
        report["distinct_values"] = distinct_by_category(set().union(*(ph for _, _, _, ph in finals)))
        listed = locations[: min(cap for _, _, cap, _ in finals)]
        report = {k: v for k, v in report.items() if k != "locations_truncated"} | {
            "locations": listed, "locations_truncated": report["total"] > len(listed)}
    return rows, front_stats, report


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
    token_key = secrets.token_bytes(16)  # this build's alone, never stored: provisional placeholders only
    if workers <= 1 or len(ids) < 2:
        front = front_steps(cfg, redact, token_key)
        source = _counted(read_sessions(store, ids, scorer=cfg.select.scorer), len(ids), on_progress)
        rows = list(fmt.rows(chain(back, chain(front, source))))
        front_stats = [s.stats for s in front]
        report = front[-1].report() if redact else {}
    else:
        rows, front_stats, report = _run_parallel(store, cfg, redact, token_key, workers, ids, back, fmt,
                                                  on_progress)
    if redact:  # placeholders numbered in the order the rows show them, whichever process redacted them
        renumber = Renumber()
        rows = [renumber.obj(row) for row in rows]
    steps = [s.to_dict() for s in front_stats] + [s.stats.to_dict() for s in back] + [fmt.stats.to_dict()]
    return rows, {"steps": steps, "redaction": report, "sessions_read": len(ids)}


def build_dataset(store: Store, cfg: DatasetConfig, *, redact: bool = True, workers: int = 1,
                  on_progress: Progress | None = None) -> dict[str, Any]:
    """Build, write and record a dataset; returns its store record.

    With no tiers asked for (--tier / YAML), the selection follows the judge: the format's default tiers
    (`select.DEFAULT_TIERS`); what was excluded and why is recorded in `counts["selection"]` and the card.
    """
    redact = redact and cfg.redact.enabled
    tiers, chosen_by = resolve_tiers(cfg.format, cfg.select.tiers)
    cfg = cfg.model_copy(deep=True)
    cfg.select.tiers = tiers  # type: ignore[assignment]
    rows, report = run_pipeline(store, cfg, redact=redact, workers=workers, on_progress=on_progress)
    selection = _selection(cfg, chosen_by, report["steps"])
    if not rows:
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
    splits = split_rows(rows, cfg.split)
    version = store.next_dataset_version(cfg.name)
    dataset_id = f"ds-{cfg.name}-v{version}"
    final = datasets_dir() / dataset_id
    partial = final.with_name(dataset_id + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    written = write_splits(splits, partial, cfg.write)
    sessions = sorted({sid for r in rows for sid in r.get("_sessions") or []})
    sources = Counter(r.get("source") for r in rows if r.get("source"))
    config = cfg.model_dump()
    config["redact"]["enabled"] = redact
    lint = lint_rows({name: [public(r) for r in part] for name, part in splits.items()}, cfg.format,
                     **lint_config(config, redact)).to_dict()
    counts = {
        "rows": written["rows"], "examples": len(rows), "sessions": len(sessions),
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


def rebuild_dataset(store: Store, record: dict[str, Any], *, workers: int = 1,
                    on_progress: Progress | None = None) -> dict[str, Any]:
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
    return build_dataset(store, cfg, redact=redact, workers=workers, on_progress=on_progress)


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
