"""Select: read sessions from the store and keep the ones (and turns) the dataset asks for.

Two filters, so each drop has a reason: `SessionSelect` (source, project, date, model, ids) runs before
segmentation, `ExampleSelect` (tier / score / label, tool use) after it, on each example. Quality comes
from the judge's scores unless a human labelled the turn or the session: labels win over scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from bashgym.factory.config import SelectConfig
from bashgym.factory.pipeline import Example, Filter, FilterResult
from bashgym.quality import LabelState, effective_tier, normalize_label, quality_from, worst_tier
from bashgym.schema import Session
from bashgym.store import Store


def read_sessions(store: Store, session_ids: Iterable[str] | None = None, *, scorer: str = "heuristic",
                  ) -> Iterator[Example]:
    """Every top-level session (or the given ids) as one example holding all its turns.

    Quality per turn goes into `meta["quality"]` ({turn_idx: {tier, score, label, from}}; -1 = session)
    for the segmenter; subagent sessions are loaded into `children`.
    """
    ids = list(session_ids) if session_ids is not None else list(store.iter_session_ids(parent=""))
    for sid in ids:
        yield load_example(store, sid, scorer=scorer)


def load_example(store: Store, session_id: str, *, scorer: str = "heuristic", root_id: str | None = None,
                 ) -> Example:
    session = store.get_session(session_id)
    children = list(descendants(store, session_id))
    ex = Example(id=session.id, session=session, turns=list(session.turns), root_id=root_id or session.id,
                 children=children)
    ex.meta["quality"] = quality_table(store, session_id, scorer)
    resolve_quality(ex, [-1])
    return ex


def descendants(store: Store, session_id: str) -> Iterator[Session]:
    """Subagent sessions below a session, depth first; each keeps `parent_id`, so the tree is kept."""
    for child_id in store.child_session_ids(session_id):
        yield store.get_session(child_id)
        yield from descendants(store, child_id)


def quality_table(store: Store, session_id: str, scorer: str) -> dict[int, dict[str, Any]]:
    """{turn_idx: {"tier", "score", "flags", "label": LabelState}} from the store's scores and merged labels;
    `flags` name the judge's detectors that fired (test tampering, unverified claim, ...)."""
    table: dict[int, dict[str, Any]] = {}
    for row in store.scores(session_id, scorer):
        table.setdefault(row["turn_idx"], {}).update(tier=row["tier"], score=row["total"],
                                                     flags=list(row["metrics"].get("flags") or []))
    for turn_idx, state in store.latest_labels(session_id).items():
        table.setdefault(turn_idx, {})["label"] = state
    return table


def resolve_quality(example: Example, turn_idxs: list[int]) -> None:
    """Set tier / score / label on an example from its turns' entries, then the session's: the first label
    found speaks for the example, the weakest judged turn (or the session's score) for the judge; which
    wins is `bashgym.quality.effective_tier`, and `quality_from` says which decided."""
    table: dict[int, dict[str, Any]] = example.meta.get("quality") or {}
    turns_only = [i for i in turn_idxs if i != -1]
    order = [-1, *turns_only] if -1 in turn_idxs else [*turns_only, -1]
    label: LabelState | None = next(
        (st for i in order if (st := (table.get(i) or {}).get("label")) is not None and (st.label or st.tier)), None)
    tier = score = None
    scored = [table[i] for i in order if i in table and (table[i].get("tier") or table[i].get("score") is not None)]
    deciding = scored
    if len(turn_idxs) > 1 and -1 not in turn_idxs and scored:
        # Several turns without a session score: the weakest turn speaks for the example.
        tier = worst_tier(e.get("tier") for e in scored)
        scores = [e["score"] for e in scored if e.get("score") is not None]
        score = min(scores) if scores else None
    elif scored:
        tier, score, deciding = scored[0].get("tier"), scored[0].get("score"), scored[:1]
    example.score = score
    example.meta["flags"] = sorted({f for e in deciding for f in e.get("flags") or []})  # the judge's detectors
    example.label = normalize_label(label.label) if label else None
    example.tier = effective_tier(tier, label)
    example.quality_from = quality_from(tier, label)


ALL_TIERS = ("gold", "silver", "bronze", "failed", "unscored")
# What each format keeps when neither --tier nor the YAML says: datasets follow the judge (bashgym.quality).
DEFAULT_TIERS = {"sft": ["gold", "silver"], "dpo": ["gold", "silver", "bronze", "failed"],
                 "kto": ["gold", "silver", "bronze", "failed"]}
SELECTION_RULES = {
    "sft": "gold and silver turns: the ones the judge (or a person's label) says are worth imitating",
    "dpo": "pairs of answers to the same request (a gym task id, else the prompt up to case and spacing): "
           "chosen from gold/silver, rejected from bronze/failed; each rejected answer is paired with the next "
           "chosen one in turn, so every rejected answer is used once",
    "kto": "desirable = gold/silver, undesirable = bronze/failed",
}


def format_family(fmt: str) -> str:
    return fmt if fmt in ("dpo", "kto") else "sft"


def resolve_tiers(fmt: str, tiers: list[str] | None) -> tuple[list[str], str]:
    """The tiers a build keeps and why: the ones asked for (--tier / YAML), else the format's default."""
    if tiers is not None:
        return list(tiers), "override"
    return list(DEFAULT_TIERS[format_family(fmt)]), "default"


def pair_key(example: Example) -> str:
    """Which examples answer the same request, for DPO pairs: a gym rollout's task id, else the first prompt
    up to case and spacing."""
    task = example.session.meta.get("task_id") if example.session.source == "gym" else None
    return f"task:{task}" if task else " ".join(example.prompt.lower().split())


class SessionSelect(Filter):
    """Keep sessions by source, project, start date, model and id, before they are cut into examples."""

    name = "select_sessions"

    def __init__(self, cfg: SelectConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def filter(self, example: Example) -> FilterResult:
        cfg, s = self.cfg, example.session
        if cfg.sessions and not any(s.id.startswith(p) for p in cfg.sessions):
            return False, "session_id"
        if cfg.sources and s.source not in cfg.sources:
            return False, f"source:{s.source}"
        if cfg.projects:
            where = f"{s.project or ''} {s.cwd or ''}"
            if not any(p in where for p in cfg.projects):
                return False, "project"
        started = s.started_at or ""
        if cfg.since and (not started or started < cfg.since):
            return False, "date:before_since"
        if cfg.until and (not started or started >= cfg.until):
            return False, "date:after_until"
        if cfg.models:
            used = list(s.models) + [st.model for st in s.steps if st.model]
            if not any(m in u for m in cfg.models for u in used):
                return False, "model"
        return True


class ExampleSelect(Filter):
    """Keep examples by quality (labels win over scores) and tool use."""

    name = "select_examples"

    def __init__(self, cfg: SelectConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def filter(self, example: Example) -> FilterResult:
        cfg = self.cfg
        label = example.label or ""  # normalised: synonyms of good/bad folded (quality.normalize_label)
        if label and label in {normalize_label(x) for x in cfg.exclude_labels}:
            return False, f"label:{label}"
        if cfg.labels is not None and label not in {normalize_label(x) for x in cfg.labels}:
            return False, f"label:{label or 'none'}"
        if cfg.tiers is not None and (example.tier or "unscored") not in cfg.tiers:
            for flag in example.meta.get("flags") or []:  # why the judge held it back
                self.stats.counters[f"flag:{flag}"] += 1
            return False, f"tier:{example.tier or 'unscored'}"
        human_good = example.quality_from == "label" and example.tier in ("gold", "silver")
        if cfg.min_score is not None and not human_good:
            if example.score is None or example.score < cfg.min_score:
                return False, "score:below_min"
        calls = [s for t in example.turns for s in t.steps if s.kind == "tool_call"]
        if len(calls) < cfg.min_tool_calls:
            return False, "tool_use:too_few_calls"
        if cfg.tools and not any(c.tool_name in cfg.tools for c in calls):
            return False, "tool_use:none_of_tools"
        return True
