"""Judge sessions in the store: read the trace and any verify/llm results, score, write the scores back.

Incremental: `pending_sessions` lists sessions never scored or re-imported since; `--rescore` takes all.
Each session is written in one transaction, so an interrupted `bashgym judge` resumes where it stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bashgym.judge.config import JudgeConfig
from bashgym.judge.score import Judgement, Metric, score_session
from bashgym.judge.signals import Evidence
from bashgym.schema import Session
from bashgym.store import Store
from bashgym.store.codec import dumps

HEURISTIC = "heuristic"  # store.list_sessions joins on this scorer for the session tier
VERIFY = "verify"
LLM = "llm"


@dataclass(slots=True)
class JudgeSummary:
    sessions: int = 0
    turns: int = 0
    session_tiers: Counter[str] = field(default_factory=Counter)
    turn_tiers: Counter[str] = field(default_factory=Counter)
    llm_graded: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"sessions": self.sessions, "turns": self.turns, "session_tiers": dict(self.session_tiers),
                "turn_tiers": dict(self.turn_tiers), "llm_graded": self.llm_graded}


def pending_sessions(store: Store, *, rescore: bool = False) -> list[str]:
    return store.all_session_ids() if rescore else store.unscored_session_ids(HEURISTIC)


def _stored_metrics(store: Store, session_id: str, scorer: str) -> dict[int, Metric]:
    out = {}
    for row in store.scores(session_id, scorer):
        if row["total"] is None:
            continue
        m = row["metrics"]
        note = m.get("note") or ""
        evidence = [Evidence(int(e.get("step", -1)), str(e.get("text", ""))) for e in m.get("evidence") or []]
        out[row["turn_idx"]] = Metric(scorer, float(row["total"]), 0.0, note, evidence)
    return out


def gym_reward_metrics(session: Session) -> dict[int, Metric]:
    """A gym rollout's reward is its task's own tests run on the final workspace: the same evidence
    `bashgym verify` produces, so it counts as the verified signal of the rollout's (last) turn."""
    reward = session.meta.get("reward") if session.source == "gym" else None
    if not isinstance(reward, int | float) or not session.turns:
        return {}
    task = session.meta.get("task_id", "?")
    note = f"gym task {task}: tests gave reward {float(reward):.2f}"
    return {session.turns[-1].index: Metric(VERIFY, float(reward), 0.0, note, [Evidence(-1, note)])}


def grade_session_with_llm(store: Store, session_id: str, config: JudgeConfig) -> int:
    """Ask the model judge about every turn; store each grade as scorer 'llm'. Returns turns graded."""
    from bashgym.judge.llm import grade_turn

    session = store.get_session(session_id)
    grades = [(t.index, grade_turn(t, config.llm)) for t in session.turns]
    with store.transaction():
        for idx, g in grades:
            store.put_score(session_id, idx, LLM, g.score, None, {
                "note": f"{g.model}: {g.reason}", "model": g.model, "reason": g.reason,
                "evidence": [{"step": -1, "text": f"model {g.model} graded {g.score:.2f}: {g.reason}"}],
            })
    return len(grades)


def _score_stored(store: Store, session_id: str, config: JudgeConfig) -> tuple[Judgement, list[Judgement]]:
    session = store.get_session(session_id)
    verified = _stored_metrics(store, session_id, VERIFY)
    verified = {**gym_reward_metrics(session), **verified}
    llm = _stored_metrics(store, session_id, LLM)
    return score_session(session, config, verified=verified, llm=llm)


ScoreRows = list[tuple[int, "float | None", "str | None", str]]


def _score_rows(config: JudgeConfig, sj: Judgement, turns: list[Judgement], fingerprint: str) -> ScoreRows:
    """The rows the scores table keeps for a session's judgements (turns, then the session as turn -1), the
    metrics as JSON text: worked out where the session was scored, so the one writer only writes."""
    return [(j.turn_idx, j.total, j.tier, dumps(j.to_store(config, fingerprint))) for j in turns] + [
        (-1, sj.total, sj.tier, dumps(sj.to_store(config, fingerprint)))]


def _write(store: Store, session_id: str, config: JudgeConfig, sj: Judgement, turns: list[Judgement],
           fingerprint: str) -> None:
    store.replace_scores(session_id, HEURISTIC, _score_rows(config, sj, turns, fingerprint))


def judge_session(store: Store, session_id: str, config: JudgeConfig, fingerprint: str | None = None,
                  ) -> tuple[Judgement, list[Judgement]]:
    """Score one stored session and its turns with the heuristic judge, folding in verify/llm results.

    Scoring happens outside the write lock (imports keep going), so the scores are written only if the
    session's content version is still the one that was read; an import that landed meanwhile makes it
    score again, and the third time it reads and scores inside the write transaction. Never stale scores
    stamped newer than the content they judged. `fingerprint`: the config's, when the caller has it."""
    fingerprint = fingerprint or config.fingerprint()
    for _ in range(2):
        version = store.session_imported_at(session_id)  # before the read: a later change shows as a new version
        sj, turns = _score_stored(store, session_id, config)
        with store.transaction():
            if store.session_imported_at(session_id, lock=True) == version:
                _write(store, session_id, config, sj, turns, fingerprint)
                return sj, turns
    with store.transaction():
        sj, turns = _score_stored(store, session_id, config)
        _write(store, session_id, config, sj, turns, fingerprint)
    return sj, turns


def judge_store(
    store: Store, config: JudgeConfig, *, rescore: bool = False, use_llm: bool = False,
    session_ids: list[str] | None = None, on_session: Callable[[str], None] | None = None, workers: int = 1,
    engine: str = "local", ray_address: str | None = None,
    on_engine: Callable[[dict[str, Any]], None] | None = None,
) -> JudgeSummary:
    """Judge every pending session (or the ones named); `on_session` is called after each (progress).

    Sessions go in chunks: each chunk is read and scored (`_score_chunk`) by the executor
    (bashgym.scale.executor: in this process, in `workers` processes, or on Ray Data with `engine="ray"`,
    `workers` 0 meaning every CPU of the cluster), then written here in one transaction, each session only
    if its content version is still the one read (as `judge_session` does); one re-imported meanwhile is
    judged again. An interrupted run keeps every chunk it wrote. The model judge (`use_llm`) runs here."""
    summary = JudgeSummary()
    ids = session_ids if session_ids is not None else pending_sessions(store, rescore=rescore)
    fingerprint = config.fingerprint()

    def done(sid: str, tier: str, turn_tiers: list[str]) -> None:
        summary.sessions += 1
        summary.turns += len(turn_tiers)
        summary.session_tiers[tier] += 1
        summary.turn_tiers.update(turn_tiers)
        if on_session:
            on_session(sid)

    if use_llm:
        for sid in ids:
            if config.llm.base_url:
                summary.llm_graded += grade_session_with_llm(store, sid, config)
            else:
                grade_session_with_llm(store, sid, config)  # raises the ConfigError naming the missing keys
            sj, turns = judge_session(store, sid, config, fingerprint)
            done(sid, sj.tier, [j.tier for j in turns])
        return summary
    if not ids:
        return summary
    for sid, tier, turn_tiers in _judge_chunks(store, config, ids, workers, fingerprint, engine, ray_address,
                                               on_engine):
        done(sid, tier, turn_tiers)
    return summary


_WORKER: dict[str, Any] = {}

Scored = tuple[str, "str | None", str, list[str], ScoreRows]


def _score_chunk(store: Store | str, config: JudgeConfig, fingerprint: str, ids: list[str]) -> list[Scored]:
    """Per id: the session id, the content version read, its tier and its turns' tiers (the summary), and its
    score rows (`_score_rows`); `store` is a path in a worker process (which keeps its read-only store open
    between chunks)."""
    if isinstance(store, str):
        if _WORKER.get("db") != store:
            _WORKER.clear()
            _WORKER.update(db=store, store=Store(store, readonly=True))
        store = _WORKER["store"]
    out = []
    for sid in ids:
        version = store.session_imported_at(sid)  # before the read: a later change shows as a new version
        sj, turns = _score_stored(store, sid, config)
        out.append((sid, version, sj.tier, [j.tier for j in turns], _score_rows(config, sj, turns, fingerprint)))
    return out


def _judge_chunks(store: Store, config: JudgeConfig, ids: list[str], workers: int, fingerprint: str,
                  engine: str = "local", ray_address: str | None = None,
                  on_engine: Callable[[dict[str, Any]], None] | None = None,
                  ) -> Iterator[tuple[str, str, list[str]]]:
    from bashgym.scale.executor import map_shards

    parallel = engine == "ray" or workers > 1
    per = workers
    if engine == "ray" and workers <= 0:
        from bashgym.scale.cluster import connect_ray

        per = connect_ray(ray_address)["cpus"]
    size = max(1, min(32, -(-len(ids) // (max(1, per) * 8)))) if parallel else 32
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    fn = partial(_score_chunk, store.location if parallel else store, config, fingerprint)
    scored = map_shards(fn, chunks, engine=engine, workers=workers, ray_address=ray_address, on_engine=on_engine)
    yield from _write_chunks(store, config, fingerprint, scored)


def _write_chunks(store: Store, config: JudgeConfig, fingerprint: str, scored: Iterable[list[Scored]],
                  ) -> Iterator[tuple[str, str, list[str]]]:
    """Write each chunk's score rows in one transaction; (session id, tier, turn tiers) per session."""
    for results in scored:
        stale = set()
        with store.transaction():
            for sid, version, _, _, rows in results:
                if store.session_imported_at(sid, lock=True) != version:
                    stale.add(sid)
                    continue
                store.replace_scores(sid, HEURISTIC, rows)
        for sid, _, tier, turn_tiers, _ in results:
            if sid in stale:
                sj, turns = judge_session(store, sid, config, fingerprint)
                tier, turn_tiers = sj.tier, [j.tier for j in turns]
            yield sid, tier, turn_tiers
