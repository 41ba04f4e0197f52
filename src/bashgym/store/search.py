"""Search and curation for the UI: the full-text index (m005), the list's filters beyond SESSION_FILTERS,
snippets, facets, named curation lists, and a dataset's breakdown."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bashgym import quality
from bashgym.errors import BashgymError
from bashgym.schema import Session
from bashgym.store.base import LABEL_TIER_SQL, SCORED_SESSIONS, TIER_SQL, Repo, in_sql, order_by
from bashgym.store.codec import decode_row, dumps, loads, now_iso, pg_text
from bashgym.store.migrations import SEARCH_OUTPUT_CHARS

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def fts_query(text: str) -> str | None:
    """A user's search box text as a safe FTS5 query: every word a quoted term (all must match).

    "quoted phrases" stay phrases and a trailing * keeps prefix search; FTS5 operators typed by the user
    are searched as words, so no input can be a syntax error.

    >>> fts_query('git "rebase -i" conf*')
    '"git" "rebase -i" "conf"*'
    """
    terms = []
    text = _CONTROL.sub(" ", text)  # a NUL ends an FTS5 string early ("unterminated string"); none is searchable
    for raw in re.findall(r'"[^"]*"|\S+', text):
        prefix = raw.endswith("*") and not raw.startswith('"')
        word = raw.strip('"').rstrip("*") if prefix else raw.strip('"')
        if word.strip():
            terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms) or None


def pg_tsquery(text: str) -> tuple[str, list[str]] | None:
    """The same search box text as a PostgreSQL tsquery expression and its parameters: words must all
    match, "quoted phrases" are phrases, a trailing * is a prefix; no input can be a syntax error.

    >>> pg_tsquery('git "rebase -i" conf*')[1]
    ['git', 'rebase -i', "'conf':*"]
    """
    parts: list[str] = []
    params: list[str] = []
    text = _CONTROL.sub(" ", text)  # PostgreSQL text cannot hold a NUL
    for raw in re.findall(r'"[^"]*"|\S+', text):
        prefix = raw.endswith("*") and not raw.startswith('"')
        word = raw.strip('"').rstrip("*") if prefix else raw.strip('"')
        if not word.strip():
            continue
        if prefix:
            parts.append("to_tsquery('simple', ?)")
            params.append("'" + word.replace("\\", "\\\\").replace("'", "''") + "':*")
        elif raw.startswith('"'):
            parts.append("phraseto_tsquery('simple', ?)")
            params.append(word)
        else:
            parts.append("plainto_tsquery('simple', ?)")
            params.append(word)
    return (" && ".join(parts), params) if parts else None


class SearchRepo(Repo):
    """session_search (+ its full-text index: FTS5 on SQLite, tsvector/GIN on PostgreSQL) and curation_lists."""

    def _match_clause(self, text: str) -> tuple[str, list[Any]] | None:
        """`s.id IN (sessions whose search body matches text)` and its parameters; None for no words."""
        if self.dialect == "postgresql":
            query = pg_tsquery(text)
            if query is None:
                return None
            return f"s.id IN (SELECT ss.session_id FROM session_search ss WHERE ss.tsv @@ ({query[0]}))", query[1]
        match = fts_query(text)
        if match is None:
            return None
        return ("s.id IN (SELECT ss.session_id FROM session_fts JOIN session_search ss "
                "ON ss.docid = session_fts.rowid WHERE session_fts MATCH ?)"), [match]

    def refresh_search_index(self) -> int:
        """Index every session that has no search entry yet (new or re-imported); returns how many.

        Called before a full-text query, so search is always in step with the store while imports and
        syncs stay fast. Each batch commits on its own: an interrupted refresh keeps what it indexed. A team
        store role that may not write the index (see docs/team-store.md) searches what is indexed.
        """
        done = 0
        while True:
            ids = [r[0] for r in self.db.execute(
                "SELECT s.id FROM sessions s WHERE NOT EXISTS "
                "(SELECT 1 FROM session_search ss WHERE ss.session_id = s.id) LIMIT 200")]
            if not ids:
                return done
            try:
                with self.transaction():
                    for sid in ids:
                        self.index_session_search(self.get_session(sid))
            except Exception as exc:
                if getattr(getattr(exc, "diag", None), "sqlstate", None) == "42501":  # insufficient privilege
                    return done
                raise
            done += len(ids)

    def index_session_search(self, session: Session) -> None:
        """(Re)write a session's search body: title, project, prompts, message text, tool inputs, outputs."""
        self.db.execute("DELETE FROM session_search WHERE session_id = ?", (session.id,))
        self.db.execute("INSERT INTO session_search (session_id, body) VALUES (?, ?)",
                        (session.id, pg_text(self.search_body(session)) if self.dialect == "postgresql"
                         else self.search_body(session)))

    def search_body(self, session: Session) -> str:
        """The text a session is found by: title, project, prompts, message text, tool inputs, outputs."""
        parts: list[str] = [session.title or "", session.project or ""]
        for turn in session.turns:
            parts.append(turn.prompt)
            for s in turn.steps:
                parts += [s.text, s.thinking]
                if s.input is not None:
                    parts.append(s.input if isinstance(s.input, str) else (dumps(s.input) or ""))
                if s.output:
                    parts.append(s.output[:SEARCH_OUTPUT_CHARS])
        return " ".join(p for p in parts if p)

    def _ui_where(
        self, query: str | None, label: str | None, tier: str | None, curation: str | None,
        filters: dict[str, Any],
    ) -> tuple[str, list[Any]]:
        # parent="" means top-level sessions only; other empty filters mean "any".
        where, params = self._session_where(
            {k: v for k, v in filters.items() if v is not None and (v != "" or k == "parent")}
        )
        clauses: list[str] = [where[len("WHERE "):]] if where else []
        match = self._match_clause(query or "")
        if match:
            clauses.append(match[0])
            params += match[1]
        if tier:
            clauses.append(f"{TIER_SQL} = ?")
            params.append(tier)
        if label in ("good", "bad"):
            clauses.append(
                # a target's merged label (quality.merge_labels): its newest row that set one, synonyms folded
                "EXISTS (SELECT 1 FROM labels l WHERE l.session_id = s.id AND LOWER(TRIM(l.label)) IN "
                f"{in_sql(quality.GOOD_LABELS if label == 'good' else quality.BAD_LABELS)} AND l.id = "
                "(SELECT MAX(l2.id) FROM labels l2 WHERE l2.session_id = l.session_id "
                "AND l2.turn_idx = l.turn_idx AND l2.label IS NOT NULL))"
            )
        elif label == "any":
            clauses.append("EXISTS (SELECT 1 FROM labels l WHERE l.session_id = s.id)")
        elif label == "none":
            clauses.append("NOT EXISTS (SELECT 1 FROM labels l WHERE l.session_id = s.id)")
        elif label:
            raise BashgymError(f"unknown label filter {label!r}; choose good, bad, any or none")
        if curation:
            clauses.append("s.id IN (SELECT session_id FROM curation_lists WHERE name = ?)")
            params.append(curation)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def search_sessions(
        self, query: str | None = None, *, label: str | None = None, tier: str | None = None,
        curation: str | None = None, limit: int = 50, offset: int = 0, sort: str = "started",
        descending: bool = True, **filters: Any,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of session summaries and the total matching, for the UI's list.

        `query` is full-text (FTS5) over prompts, commands and outputs; `tier` is the effective tier (the
        session's newest label row's tier, else the heuristic judge's); `label` is good|bad|any|none, the
        newest label row of any turn or of the session.
        """
        order = order_by(sort, descending)
        if query:
            self.refresh_search_index()
        where, params = self._ui_where(query, label, tier, curation, filters)
        base = f"{SCORED_SESSIONS} {where}"
        total = self.db.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
        rows = self.db.execute(
            "SELECT s.id, s.source, s.project, s.cwd, s.git_branch, s.models, s.started_at, s.ended_at, "
            "s.n_turns, s.n_steps, s.n_tool_calls, s.input_tokens, s.output_tokens, s.parent_id, s.title, "
            "s.origin_user, s.origin_host, "
            f"sc.total AS score, sc.tier AS judged_tier, {LABEL_TIER_SQL} AS label_tier, "
            "(SELECT t.prompt FROM turns t WHERE t.session_id = s.id ORDER BY t.idx LIMIT 1) AS first_prompt "
            f"{base} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        out = [decode_row(r, json_lists=("models",)) for r in rows]
        for d in out:
            d["tier"] = d["label_tier"] or d["judged_tier"]  # = TIER_SQL (quality.effective_tier)
        return out, total

    def tier_counts(
        self, query: str | None = None, *, label: str | None = None, curation: str | None = None, **filters: Any,
    ) -> dict[str | None, int]:
        """How many sessions the list's filters keep, per effective tier (None = not judged), whatever
        tier is filtered on: the counts a curator picks a tier from."""
        filters.pop("tier", None)
        if query:
            self.refresh_search_index()
        where, params = self._ui_where(query, label, None, curation, filters)
        rows = self.db.execute(f"SELECT {TIER_SQL} AS t, COUNT(*) {SCORED_SESSIONS} {where} GROUP BY {TIER_SQL}",
                               params)
        return {r[0]: r[1] for r in rows}

    def search_snippets(self, query: str, session_ids: list[str]) -> dict[str, str]:
        """A short excerpt around the match per session; matches are wrapped in \\x02 … \\x03."""
        if not session_ids:
            return {}
        marks = ",".join("?" * len(session_ids))
        if self.dialect == "postgresql":
            pg = pg_tsquery(query)
            if pg is None:
                return {}
            rows = self.db.execute(
                f"SELECT ss.session_id, ts_headline('simple', ss.body, {pg[0]}, ?) FROM session_search ss "
                f"WHERE ss.tsv @@ ({pg[0]}) AND ss.session_id IN ({marks})",
                [*pg[1], "StartSel=\x02, StopSel=\x03, MaxWords=20, MinWords=8, MaxFragments=1, "
                 "FragmentDelimiter=…", *pg[1], *session_ids],
            )
            return {r[0]: r[1] for r in rows}
        match = fts_query(query)
        if not match:
            return {}
        rows = self.db.execute(
            "SELECT ss.session_id, snippet(session_fts, 0, char(2), char(3), '…', 16) FROM session_fts "
            "JOIN session_search ss ON ss.docid = session_fts.rowid "
            f"WHERE session_fts MATCH ? AND ss.session_id IN ({marks})",
            [match, *session_ids],
        )
        return {r[0]: r[1] for r in rows}

    def session_facets(self) -> dict[str, list[str]]:
        """Values for the list's filter menus: sources, the most common projects, models."""
        sources = [r[0] for r in self.db.execute("SELECT DISTINCT source FROM sessions ORDER BY source")]
        projects = [
            r[0]
            for r in self.db.execute(
                "SELECT project FROM sessions WHERE project IS NOT NULL GROUP BY project "
                "ORDER BY COUNT(*) DESC, project LIMIT 200"
            )
        ]
        models: set[str] = set()
        for (text,) in self.db.execute("SELECT DISTINCT models FROM sessions LIMIT 1000"):
            models.update(loads(text) or [])
        users = [r[0] for r in self.db.execute(
            "SELECT DISTINCT origin_user FROM sessions WHERE origin_user IS NOT NULL ORDER BY origin_user")]
        return {"sources": sources, "projects": sorted(projects), "models": sorted(models), "users": users}

    def add_to_curation_list(self, name: str, session_ids: Iterable[str], note: str | None = None) -> int:
        """Add sessions to a named curation list (the factory can select by it); returns how many were new."""
        stamp = now_iso()
        cur = self.db.executemany(
            "INSERT INTO curation_lists (name, session_id, note, added_at) VALUES (?,?,?,?) "
            "ON CONFLICT (name, session_id) DO NOTHING",
            [(name, sid, note, stamp) for sid in session_ids],
        )
        return max(cur.rowcount, 0)

    def remove_from_curation_list(self, name: str, session_ids: Iterable[str]) -> int:
        cur = self.db.executemany(
            "DELETE FROM curation_lists WHERE name = ? AND session_id = ?", [(name, sid) for sid in session_ids]
        )
        return max(cur.rowcount, 0)

    def curation_lists(self) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.execute(
                "SELECT name, COUNT(*) AS sessions, MAX(added_at) AS updated_at FROM curation_lists "
                "GROUP BY name ORDER BY name"
            )
        ]

    def curation_list_session_ids(self, name: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT session_id FROM curation_lists WHERE name = ? ORDER BY added_at, session_id", (name,)
            )
        ]

    def ui_dataset_breakdown(self, dataset_id: str) -> dict[str, Any]:
        """Counts of a dataset's sessions by source and by effective tier (quality.py), from dataset_sessions."""
        base = (
            f"{SCORED_SESSIONS} JOIN dataset_sessions ds ON ds.session_id = s.id WHERE ds.dataset_id = ?"
        )
        by_source = {r[0]: r[1] for r in self.db.execute(f"SELECT s.source, COUNT(*) {base} GROUP BY s.source",
                                                         (dataset_id,))}
        by_tier = {(r[0] or "unscored"): r[1]
                   for r in self.db.execute(f"SELECT {TIER_SQL} AS t, COUNT(*) {base} GROUP BY t", (dataset_id,))}
        return {"sessions": sum(by_source.values()), "by_source": by_source, "by_tier": by_tier}

