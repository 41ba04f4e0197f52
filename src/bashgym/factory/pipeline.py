"""The factory's pipeline base: steps are generators over examples, filters say why they drop one.

Modelled on datatrove (STYLE.md §9): a `PipelineStep.run(data)` takes an iterator of `Example`s and
yields examples; a `Filter` only implements `filter(example)`, returning True or `(False, "reason")`, and
the base counts total / kept / dropped per reason. `Pipeline` chains steps lazily, so a build streams
through the store once, and `Pipeline.stats()` is what the dataset card and `dataset show` print.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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


class Pipeline:
    """Steps chained lazily: `for ex in Pipeline([a, b, c]).run(source)`; `stats()` once consumed."""

    def __init__(self, steps: Iterable[PipelineStep | Callable[[Iterable[Example]], Iterator[Example]]]):
        self.steps = list(steps)

    def run(self, data: Iterable[Example]) -> Iterator[Example]:
        stream: Iterable[Example] = data
        for step in self.steps:
            stream = step(stream)
        yield from stream

    def stats(self) -> list[dict[str, Any]]:
        return [s.stats.to_dict() for s in self.steps if isinstance(s, PipelineStep)]
