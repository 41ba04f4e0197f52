"""Segment: cut sessions into examples — one per user turn (default), whole sessions, or windows of
consecutive turns under a token budget — and decide where subagent work goes.

A subagent session (parent_id set) is attached to the turn that spawned it (found through the spawning
call's meta, else by time), split into examples of its own that keep the parent's `root_id` (so the split
keeps the tree on one side), or dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from bashgym.errors import ConfigError, require
from bashgym.factory.config import SegmentConfig
from bashgym.factory.pipeline import Example, PipelineStep
from bashgym.factory.select import resolve_quality
from bashgym.schema import Session, Turn

SUBAGENT_META_KEYS = ("subagent_session_id", "child_session_id", "agent_session_id", "session_id", "agent_id")
SPAWN_TOOLS = frozenset({"Task", "Agent", "spawn_agent", "subagent"})

TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """About four characters a token: the default when no tokenizer is named."""
    return (len(text) + 3) // 4


def token_counter(tokenizer: str | None) -> TokenCounter:
    """A function counting tokens with the named tokenizer (HF name in the local cache, or a local path)."""
    if not tokenizer:
        return approx_tokens
    require("transformers", "train")
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds here
        raise ConfigError(
            f"segment.tokenizer: cannot load tokenizer {tokenizer!r} locally ({exc.__class__.__name__}); "
            "give a local path or a name already in the Hugging Face cache"
        ) from None
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def turn_text(turn: Turn) -> str:
    return Example(id="", session=Session(id="", source=""), turns=[turn], root_id="").text()


def spawning_call_id(child: Session) -> str | None:
    """The tool-call id that spawned a subagent session, when its source recorded it."""
    return child.meta.get("toolUseId") or child.meta.get("parent_call_id")


def owner_turn(parent: Session, child: Session) -> int | None:
    """Index of the parent turn that spawned a subagent session, or None when it cannot be told."""
    for turn in parent.turns:
        for step in turn.steps:
            if step.kind != "tool_call":
                continue
            meta_ids = {str(step.meta.get(k)) for k in SUBAGENT_META_KEYS if step.meta.get(k)}
            if child.id in meta_ids or (step.call_id and spawning_call_id(child) == step.call_id):
                return turn.index
    if child.started_at:
        for turn in parent.turns:
            if turn.started_at and turn.started_at <= child.started_at and (
                not turn.ended_at or child.started_at <= turn.ended_at
            ):
                return turn.index
    spawning = [t.index for t in parent.turns if any(s.tool_name in SPAWN_TOOLS for s in t.steps)]
    return spawning[0] if len(spawning) == 1 else None


class Segment(PipelineStep):
    """Session examples in, training examples out (1 → many); drops say why (no steps, over budget)."""

    name = "segment"

    def __init__(self, cfg: SegmentConfig, count_tokens: TokenCounter | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.count_tokens = count_tokens or (token_counter(cfg.tokenizer) if cfg.mode == "window" else approx_tokens)

    def run(self, data: Iterable[Example]) -> Iterator[Example]:
        for session_ex in data:
            self.stats.total += 1
            yield from self._emit(session_ex)
            if self.cfg.subagents == "split":
                for child in session_ex.children:
                    child_ex = Example(id=child.id, session=child, turns=list(child.turns),
                                       root_id=session_ex.root_id, meta={"quality": {}, "subagent_of": child.parent_id})
                    self.stats.counters["subagent_sessions_split"] += 1
                    yield from self._emit(child_ex)

    def _emit(self, ex: Example) -> Iterator[Example]:
        for out in self._cut(ex):
            n_steps = sum(len(t.steps) for t in out.turns)
            if n_steps < self.cfg.min_steps:
                self.drop("too_few_steps")
                continue
            self.stats.kept += 1
            yield out

    def _children_for(self, ex: Example, turn_idxs: set[int]) -> list[Session]:
        if self.cfg.subagents != "attach" or not ex.children:
            return []
        direct = {c.id for c in ex.children if c.parent_id == ex.session.id}
        picked: set[str] = set()
        for child in ex.children:
            if child.id in direct:
                owner = owner_turn(ex.session, child)
                if owner is None or owner in turn_idxs:
                    picked.add(child.id)
        changed = True
        while changed:  # grandchildren follow their parent
            changed = False
            for child in ex.children:
                if child.id not in picked and child.parent_id in picked:
                    picked.add(child.id)
                    changed = True
        return [c for c in ex.children if c.id in picked]

    def _make(self, ex: Example, turns: list[Turn], suffix: str) -> Example:
        idxs = [t.index for t in turns]
        out = replace(ex, id=f"{ex.session.id}{suffix}", turns=turns, meta=dict(ex.meta),
                      children=self._children_for(ex, set(idxs)))
        out.meta["turn_idxs"] = idxs
        resolve_quality(out, idxs if suffix else [-1, *idxs])
        return out

    def _cut(self, ex: Example) -> Iterator[Example]:
        mode = self.cfg.mode
        if mode == "session":
            yield self._make(ex, list(ex.turns), "")
        elif mode == "turn":
            for turn in ex.turns:
                yield self._make(ex, [turn], f":{turn.index}")
        else:
            yield from self._windows(ex)

    def _windows(self, ex: Example) -> Iterator[Example]:
        budget, overlap = self.cfg.max_tokens, max(0, self.cfg.overlap_turns)
        sizes = [self.count_tokens(turn_text(t)) for t in ex.turns]
        i, n = 0, len(ex.turns)
        while i < n:
            if sizes[i] > budget:
                self.drop("window:turn_over_budget")
                i += 1
                continue
            j, used = i, 0
            while j < n and used + sizes[j] <= budget:
                used += sizes[j]
                j += 1
            window = ex.turns[i:j]
            out = self._make(ex, window, f":w{window[0].index}-{window[-1].index}")
            out.meta["tokens"] = used
            yield out
            if j >= n:
                break
            i = max(i + 1, j - overlap)
