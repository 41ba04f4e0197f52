"""The factory's pipeline base: steps are generators over examples, filters say why they drop one.

Modelled on datatrove (STYLE.md §9): a `PipelineStep.run(data)` takes an iterator of `Example`s and
yields examples; a `Filter` only implements `filter(example)`, returning True or `(False, "reason")`, and
the base counts total / kept / dropped per reason. `Pipeline` chains steps lazily, so a build streams
through the store once, and `Pipeline.stats()` is what the dataset card and `dataset show` print.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bashgym.schema import Session, Turn, conversation

FilterResult = bool | tuple[bool, str]


@dataclass(slots=True)
class Example:
    """One training example on its way through the factory: some turns of one session plus what the
    selection needs to know about them (quality, provenance).

    `root_id` is the top-level session the example came from (subagent sessions carry their parent's
    root), so the split keeps a whole conversation tree on one side. `children` holds subagent sessions
    attached to this example; `meta` collects what steps add (hashes, token counts, truncations).
    """

    id: str
    session: Session
    turns: list[Turn]
    root_id: str
    tier: str | None = None
    score: float | None = None
    label: str | None = None
    quality_from: str = "none"  # "label" when a human label decided tier/label, "score" when the judge did
    children: list[Session] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        return self.session.id

    @property
    def prompt(self) -> str:
        return self.turns[0].prompt if self.turns else ""

    def text(self) -> str:
        """Everything said and run in the example as one string (dedup, decontamination, token counts)."""
        parts: list[str] = []
        for turn in self.turns:
            for step in conversation(turn):
                if step.text:
                    parts.append(step.text)
                if step.kind == "tool_call":
                    parts.append(f"{step.tool_name} {_flat(step.input)}")
                    if step.output:
                        parts.append(step.output)
        return "\n".join(parts)


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_flat(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_flat(v) for v in value)
    return str(value)


@dataclass
class StepStats:
    """What one step saw: examples in, examples out, drops per reason, and free-form counters."""

    name: str
    total: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    counters: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total": self.total,
            "kept": self.kept,
            "dropped": dict(self.dropped.most_common()),
            **({"counters": dict(self.counters)} if self.counters else {}),
        }

    def merge(self, other: StepStats) -> None:
        self.total += other.total
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.counters.update(other.counters)


class PipelineStep:
    """A step over an iterator of examples. Subclasses implement `run`, calling `self.stat_in()` /
    `self.stat_out()` (or use `Filter`) so the counts add up."""

    name = "step"

    def __init__(self) -> None:
        self.stats = StepStats(self.name)

    def run(self, data: Iterable[Example]) -> Iterator[Example]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, data: Iterable[Example]) -> Iterator[Example]:
        return self.run(data)

    def drop(self, reason: str) -> None:
        self.stats.dropped[reason] += 1


class Filter(PipelineStep):
    """A step that keeps or drops examples one by one: `filter` returns True or (False, "reason")."""

    name = "filter"

    def filter(self, example: Example) -> FilterResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, data: Iterable[Example]) -> Iterator[Example]:
        for example in data:
            self.stats.total += 1
            result = self.filter(example)
            keep, reason = (result, "filtered") if isinstance(result, bool) else result
            if keep:
                self.stats.kept += 1
                yield example
            else:
                self.stats.dropped[reason] += 1


class Map(PipelineStep):
    """A step that rewrites each example (redaction, tool shaping): counts in == out."""

    name = "map"

    def apply(self, example: Example) -> Example:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, data: Iterable[Example]) -> Iterator[Example]:
        for example in data:
            self.stats.total += 1
            out = self.apply(example)
            self.stats.kept += 1
            yield out


# What a gate's `prepare` says of an example before the gate decides (see `Gate`).
AHEAD = "ahead"  # may be kept: run the later steps now, beside the rest of the shard's work
DEFER = "defer"  # likely dropped: leave the later steps to the merge, which runs them only if it is kept
DROP = "drop"  # certainly dropped: `check` will drop it


class Gate(Filter):
    """A filter that must see every example, in order (dedup: the first of a group is kept). Executors run
    the expensive half, `prepare`, beside the other steps in the workers, and `check` in order in one place.
    `prepare(example, memo)` returns (what `check` needs, AHEAD / DEFER / DROP): `memo` (from `new_memo`) is
    one shard's scratch, so an example the shard itself shows to be dropped, or likely dropped, costs no
    more work there."""

    name = "gate"

    def new_memo(self) -> Any:
        return set()

    def prepare(self, example: Example, memo: Any) -> tuple[Any, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, example_id: str, prepared: Any) -> FilterResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def filter(self, example: Example) -> FilterResult:
        return self.check(example.id, self.prepare(example, self.new_memo())[0])


@dataclass(slots=True)
class Record:
    """One example after a shard's pass: its id, what the gate needs to decide on it, and, worked out ahead in
    case the gate keeps it, the stats each later step (and the sink) counted for it and what came out: a row
    (per-example sink), the example (a sink that needs the whole set), or None (a later step dropped it).
    `verdict`: the gate's, when the shard ran where the gate decides (see `Pipeline.run_shard`'s `decide`).
    `deferred`: the example itself, when the gate's `prepare` found it likely dropped (DEFER): the later steps
    are left to the merge, for the rare one the gate keeps (`example()`)."""

    id: str
    prepared: Any
    deltas: list[StepStats]
    out: Any
    verdict: FilterResult | None = None
    deferred: Example | Parked | None = None

    def example(self) -> Example | None:
        """The deferred example, unpickled now if it came from another process parked (see `Shard`)."""
        return self.deferred.get() if isinstance(self.deferred, Parked) else self.deferred


class Parked:
    """One deferred example of a shard that crossed processes: the shard's deferred examples travel as one
    pickle (parts they share, once) that the merge unpickles only when the gate keeps one of them. Most are
    dropped as duplicates: unpickling them all cost the merging process 0.4 s of a 235 MB build's 8."""

    __slots__ = ("_pack", "_index")

    def __init__(self, pack: list[Any], index: int) -> None:
        self._pack, self._index = pack, index  # pack: [pickled list of examples, the list once unpickled]

    @property
    def loaded(self) -> bool:
        """Whether the shard's deferred examples have been unpickled."""
        return self._pack[1] is not None

    def get(self) -> Example:
        if self._pack[1] is None:
            self._pack[1] = pickle.loads(self._pack[0])
        return self._pack[1][self._index]


def _unpark(records: list[Record], stats: list[StepStats], extra: Any, blob: bytes | None,
            where: list[int]) -> Shard:
    pack = [blob, None]
    for index, at in enumerate(where):
        records[at].deferred = Parked(pack, index)
    return Shard(records, stats, extra)


@dataclass(slots=True)
class Shard:
    """What one shard gives back: its records in order, the counts of the steps before the gate, and what
    `extra` (a callable of the pipeline) reported about the shard (the redaction tally). Pickled (to the
    merging process), its deferred examples are parked: see `Parked`."""

    records: list[Record]
    stats: list[StepStats]
    extra: Any = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        where = [i for i, r in enumerate(self.records) if r.deferred is not None]
        if not where:
            return _unpark, (self.records, self.stats, self.extra, None, where)
        blob = pickle.dumps([self.records[i].example() for i in where], protocol=pickle.HIGHEST_PROTOCOL)
        records = list(self.records)
        for i in where:
            records[i] = replace(records[i], deferred=None)
        return _unpark, (records, self.stats, self.extra, blob, where)


class Pipeline:
    """Steps chained lazily: `for ex in Pipeline([a, b, c]).run(source)`; `stats()` once consumed.

    The one pipeline every engine runs. `run` chains the steps in one go (tests, one-off callers). Past one
    process, an executor (bashgym.scale.executor) runs `run_shard` on each shard of the input wherever it likes and
    feeds the results, in shard order, to `merge` in one process: everything before the `Gate` runs in the
    shard, the gate decides in order, and the steps after it were run ahead in the shard with their counts
    kept per example, added only for the examples the gate keeps. The rows and the stats are the same as
    one process's, whoever ran which shard (datatrove's shape: per-step stats merged by the executor).

    `sink`: the step that turns examples into rows (factory.formats.Format), per example when it has
    `per_example` true, else over the whole kept set at the end of `merge`.
    """

    def __init__(self, steps: Iterable[PipelineStep | Callable[[Iterable[Example]], Iterator[Example]]],
                 sink: Any = None):
        self.steps = list(steps)
        self.sink = sink
        gate = next((i for i, st in enumerate(self.steps) if isinstance(st, Gate)), None)
        self.before = self.steps if gate is None else self.steps[:gate]
        self.gate: Gate | None = None if gate is None else self.steps[gate]  # type: ignore[assignment]
        self.after = [] if gate is None else self.steps[gate + 1 :]

    def run(self, data: Iterable[Example]) -> Iterator[Example]:
        stream: Iterable[Example] = data
        for step in self.steps:
            stream = step(stream)
        yield from stream

    def stats(self) -> list[dict[str, Any]]:
        return [s.stats.to_dict() for s in [*self.steps, self.sink] if isinstance(s, PipelineStep)]

    # --- past one process ---------------------------------------------------------------------------------

    def run_shard(self, data: Iterable[Example], extra: Callable[[], Any] | None = None,
                  memo: Any = None, decide: Gate | None = None) -> Shard:
        """One shard's pass (in a worker, on a pipeline of its own): the steps before the gate with this
        shard's counts alone (`merge` adds them to its own), then per example the gate's `prepare` and, when
        that says AHEAD, the later steps and the sink. `memo`: the gate's scratch (`Gate.new_memo`), shared
        only by shards that run one after another, in order, in one process. `decide`: the merging pipeline's
        gate, when this shard runs in the merging process just before its merge (shards in order, one at a
        time): the gate decides here, and an example it drops costs none of the later steps."""
        for step in self.before:
            if isinstance(step, PipelineStep):
                step.stats = StepStats(step.name)
        inline_sink = self.gate is None and self.per_example_sink
        if inline_sink:
            self.sink.stats = StepStats(self.sink.name)
        if memo is None and self.gate is not None:
            memo = self.gate.new_memo()
        records: list[Record] = []
        stream: Iterable[Example] = data
        for step in self.before:
            stream = step(stream)
        for ex in stream:
            if self.gate is None:
                out = _alone(self.sink, ex, rows=True)[0] if inline_sink else [ex]
                records.append(Record(ex.id, None, [], out[0] if out else None))
                continue
            prepared, status = self.gate.prepare(ex, memo)
            if status == DROP:
                records.append(Record(ex.id, prepared, [], None))
                continue
            verdict = decide.check(ex.id, prepared) if decide is not None else None
            if verdict is not None and verdict is not True:
                records.append(Record(ex.id, prepared, [], None, verdict))
                continue
            if verdict is None and status == DEFER:
                records.append(Record(ex.id, prepared, [], None, deferred=ex))
                continue
            deltas, out = self.after_gate(ex)
            records.append(Record(ex.id, prepared, deltas, out, verdict))
        stats = [s.stats for s in self.before if isinstance(s, PipelineStep)]
        if inline_sink:
            stats.append(self.sink.stats)
        return Shard(records, stats, extra() if extra else None)

    def after_gate(self, ex: Example) -> tuple[list[StepStats], Any]:
        """The steps after the gate (and a per-example sink) on one example: the stats each counted for it,
        and what came out (a row, the example, or None when a step dropped it)."""
        deltas: list[StepStats] = []
        items: list[Any] = [ex]
        for step in self.after:
            items, delta = _alone(step, items[0])
            deltas.append(delta)
            if not items:
                break
        if items and self.per_example_sink:
            items, delta = _alone(self.sink, items[0], rows=True)
            deltas.append(delta)
        return deltas, items[0] if items else None

    def merge(self, shards: Iterable[Shard], on_shard: Callable[[Shard], None] | None = None,
              on_late: Callable[[Any], Any] | None = None) -> Iterator[Any]:
        """The shards' results in order (in the one process): counts added up, the gate decided, the rows (or,
        for a whole-set sink, the sink's rows over every kept example at the end). `on_shard` sees each shard
        as it is merged (its `extra`, progress); `on_late` is given each row made here, for a deferred example
        the gate kept, to do what the shard does to the rows it makes (the build's leftover lint)."""
        counted = [s for s in self.before if isinstance(s, PipelineStep)]  # their counts start as built
        if self.gate is None and self.per_example_sink:
            counted.append(self.sink)
        later = [s.stats for s in self.after if isinstance(s, PipelineStep)]
        if self.sink is not None and self.per_example_sink:
            later.append(self.sink.stats)
        kept: list[Example] = []
        for shard in shards:
            for step, st in zip(counted, shard.stats, strict=True):
                step.stats.merge(st)
            if on_shard:
                on_shard(shard)
            for rec in shard.records:
                if self.gate is not None:
                    self.gate.stats.total += 1
                    verdict = self.gate.check(rec.id, rec.prepared) if rec.verdict is None else rec.verdict
                    if verdict is not True:
                        self.gate.stats.dropped[verdict[1] if isinstance(verdict, tuple) else "filtered"] += 1
                        continue
                    self.gate.stats.kept += 1
                    deltas, out = rec.deltas, rec.out
                    if rec.deferred is not None:  # the shard left the later steps to whoever kept it: here
                        deltas, out = self.after_gate(rec.example())
                        if out is not None and on_late is not None and self.per_example_sink:
                            out = on_late(out)
                    for stats, delta in zip(later, deltas, strict=False):
                        stats.merge(delta)
                else:
                    out = rec.out
                if out is None:
                    continue
                if self.sink is None or self.per_example_sink:
                    yield out
                else:
                    kept.append(out)
        if self.sink is not None and not self.per_example_sink:
            yield from self.sink.rows(kept)

    @property
    def per_example_sink(self) -> bool:
        return self.sink is not None and bool(getattr(self.sink, "per_example", False))


def _alone(step: Any, ex: Example, rows: bool = False) -> tuple[list[Any], StepStats]:
    """What a per-example step makes of one example, and the stats it counted for it alone."""
    saved = step.stats
    step.stats = StepStats(step.name)
    try:
        out = list(step.rows([ex]) if rows else step([ex]))
        return out, step.stats
    finally:
        step.stats = saved
