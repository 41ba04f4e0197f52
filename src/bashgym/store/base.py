"""What every repository shares: the connection, one id-prefix resolver, and the SQL fragments that
several queries repeat (the judge's session score joined to sessions, the effective tier)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bashgym import quality
from bashgym.errors import NotFoundError, choice_error, did_you_mean

# The heuristic judge's session-level score joined to each session (`s`, `sc`): the list, count, stats
# and UI queries all start from it.
SCORED_SESSIONS = (
    "FROM sessions s LEFT JOIN scores sc ON sc.session_id = s.id AND sc.turn_idx = -1 AND sc.scorer = 'heuristic'"
)

def _label_field_sql(name: str) -> str:
    """A session label's field as `quality.merge_labels` merges it: the newest row that set it ("" clears)."""
    return (f"(SELECT NULLIF(l.{name}, '') FROM labels l WHERE l.session_id = s.id AND l.turn_idx = -1 "
            f"AND l.{name} IS NOT NULL ORDER BY l.id DESC LIMIT 1)")


def in_sql(words: frozenset[str]) -> str:
    """A constant SQL list of words (the policy's label synonyms: fixed, quote-free)."""
    return "(" + ", ".join(f"'{w}'" for w in sorted(words)) + ")"


# The tier a person gave a whole session, as `quality.LabelState.human_tier` says (bad → failed; else the
# label's tier; else good → gold), or NULL; and the effective tier (that, else the heuristic judge's).
# Built from quality.py's tables so SQL and Python share one policy (tests/test_quality.py runs both).
_LABEL_SQL = f"LOWER(TRIM({_label_field_sql('label')}))"
LABEL_TIER_SQL = (
    f"(CASE WHEN {_LABEL_SQL} IN {in_sql(quality.BAD_LABELS)} THEN 'failed' "
    f"WHEN {_label_field_sql('tier')} IS NOT NULL THEN {_label_field_sql('tier')} "
    f"WHEN {_LABEL_SQL} IN {in_sql(quality.GOOD_LABELS)} THEN 'gold' END)"
)
TIER_SQL = f"COALESCE({LABEL_TIER_SQL}, sc.tier)"


SESSION_FILTERS = ("source", "project", "model", "since", "until", "tier", "min_score", "max_score", "parent",
                   "search", "user")
SORT_KEYS = {
    "started": "s.started_at",
    "steps": "s.n_steps",
    "turns": "s.n_turns",
    "tokens": "(s.input_tokens + s.output_tokens)",
    "score": "sc.total",
    # By rank, not by name (descending: gold, silver, bronze, failed), then by score within a tier
    # (a score in [0, 1] adds at most 0.5, less than one rank step).
    "tier": f"(CASE {TIER_SQL} WHEN 'gold' THEN 4 WHEN 'silver' THEN 3 WHEN 'bronze' THEN 2 WHEN 'failed' THEN 1 END"
            " + COALESCE(sc.total, 0) / 2)",
}


def order_by(sort: str, descending: bool) -> str:
    """The ORDER BY expression of a sort key (unknown keys are the caller's error, named)."""
    if sort not in SORT_KEYS:
        raise choice_error("sort", sort, SORT_KEYS)
    return f"{SORT_KEYS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, s.id"


def upsert_sql(table: str, columns: str, key: str) -> str:
    """INSERT … ON CONFLICT (key) DO UPDATE: insert-or-replace in standard SQL (SQLite and PostgreSQL).

    >>> upsert_sql("t", "a, b, c", "a")
    'INSERT INTO t (a, b, c) VALUES (?,?,?) ON CONFLICT (a) DO UPDATE SET b = excluded.b, c = excluded.c'
    """
    cols = [c.strip() for c in columns.split(",")]
    keys = {k.strip() for k in key.split(",")}
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {sets}")


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching values that start with `prefix` literally (used with ESCAPE '\\')."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Repo:
    """Base of the repositories: each is a mixin over `self.db` (a connection whose `execute` takes `?`
    parameters) and `self.transaction()`; `Store` combines them over one connection."""

    db: Any
    dialect: str

    def _match_clause(self, text: str) -> tuple[str, list[Any]] | None:  # pragma: no cover - SearchRepo's
        raise NotImplementedError

    def refresh_search_index(self) -> int:  # pragma: no cover - SearchRepo's
        raise NotImplementedError

    def index_session_search(self, session: Any) -> None:  # pragma: no cover - SearchRepo's
        raise NotImplementedError

    def search_body(self, session: Any) -> str:  # pragma: no cover - SearchRepo's
        raise NotImplementedError

    def transaction(self) -> Any:  # pragma: no cover - provided by Store
        raise NotImplementedError

    def _resolve_id(self, table: str, prefix: str, *, what: str, hint: str,
                    known: Iterable[str] | None = None) -> str:
        """Full id from an id or a unique prefix (as git does for commits): the one resolver for sessions,
        runs, evals and datasets. Not found and ambiguous both raise NotFoundError, naming the candidates."""
        if self.db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (prefix,)).fetchone():
            return prefix
        rows = self.db.execute(
            f"SELECT id FROM {table} WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6", (like_prefix(prefix),)
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if rows:
            raise NotFoundError(f"{what} id {prefix!r} is ambiguous: " + ", ".join(r[0] for r in rows[:5])
                                + " (give more characters)")
        suggestion = did_you_mean(prefix, list(known)) if known is not None else ""
        raise NotFoundError(f"no {what} with id {prefix!r}{suggestion} (see `{hint}`)")
