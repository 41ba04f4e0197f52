"""Sessions: writing and reading whole traces, the list's filters and sort keys, totals, start context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bashgym.errors import BashgymError, NotFoundError
from bashgym.schema import SCHEMA_VERSION, Session, Step, Turn, Usage
from bashgym.store.base import (
    LABEL_TIER_SQL,
    SCORED_SESSIONS,
    SESSION_FILTERS,
    TIER_SQL,
    Repo,
    order_by,
    upsert_sql,
)
from bashgym.store.codec import (
    decode_row,
    decompress_text,
    dumps,
    loads,
    now_iso,
    output_columns,
    pg_output_columns,
    pg_text,
)

# Step rows are inserted with only the columns their kind uses (the others take their defaults, NULL or 0):
# binding a parameter costs about as much as storing it, and a message step leaves half the columns empty.
_STEP_MESSAGE_SQL = ("INSERT INTO steps (session_id, turn_idx, idx, kind, role, text, thinking, timestamp, model, "
                     "meta) VALUES (?,?,?,?,?,?,?,?,?,?)")
_STEP_TOOL_COLUMNS = ("session_id, turn_idx, idx, kind, role, tool_name, call_id, input, {output}, is_error, "
                      "exit_code, interrupted, duration_ms, \"timestamp\", model, meta")  # quoted: a PostgreSQL keyword
_STEP_TOOL_SQL = f"INSERT INTO steps ({_STEP_TOOL_COLUMNS.format(output='output')}) VALUES ({','.join('?' * 16)})"
_STEP_TOOL_Z_SQL = f"INSERT INTO steps ({_STEP_TOOL_COLUMNS.format(output='output_z')}) VALUES ({','.join('?' * 16)})"
_STEP_FULL_SQL = (
    "INSERT INTO steps (session_id, turn_idx, idx, kind, role, text, thinking, tool_name, call_id, input, output, "
    "output_z, is_error, exit_code, interrupted, duration_ms, timestamp, model, meta) "
    f"VALUES ({','.join('?' * 19)})"
)
_SESSION_COLUMNS = (
    "id, source, project, cwd, git_branch, git_commit, models, started_at, ended_at, input_tokens, output_tokens, "
    "cache_read_tokens, cache_creation_tokens, parent_id, agent_version, title, source_path, n_turns, n_steps, "
    "n_tool_calls, meta, schema_version, imported_at, origin_user, origin_host"
)
# A new session, the common case, needs no lookup and no deletes; a taken id (nothing inserted) is replaced.
_SESSION_SQL = f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ({','.join('?' * 25)}) ON CONFLICT (id) DO NOTHING"


_STEP_COLUMNS = ("session_id", "turn_idx", "idx", "kind", "role", "text", "thinking", "tool_name", "call_id", "input",
                 "output", "output_z", "is_error", "exit_code", "interrupted", "duration_ms", "timestamp", "model",
                 "meta")
_TURN_COLUMNS = ("session_id", "idx", "prompt", "started_at", "ended_at", "input_tokens", "output_tokens",
                 "cache_read_tokens", "cache_creation_tokens", "meta")


def _session_row(session: Session, imported_at: str | None, origin: tuple[str | None, str | None]) -> tuple:
    n_steps = sum(len(t.steps) for t in session.turns)
    n_tools = sum(1 for t in session.turns for s in t.steps if s.kind == "tool_call")
    u = session.usage
    return (
        session.id, session.source, session.project, session.cwd, session.git_branch,
        session.git_commit, dumps(session.models), session.started_at, session.ended_at,
        u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_creation_tokens,
        session.parent_id, session.agent_version, session.title, session.source_path,
        len(session.turns), n_steps, n_tools, dumps(session.meta or None), SCHEMA_VERSION,
        imported_at or now_iso(), *origin,
    )


def _pg_rows(session: Session, imported_at: str | None, origin: tuple[str | None, str | None]
             ) -> tuple[tuple, list[tuple], list[tuple]]:
    """A session's (session row, turn rows, step rows) as PostgreSQL takes them (COPY, full columns)."""
    sid = session.id
    turns = []
    steps = []
    for turn in session.turns:
        tu = turn.usage
        turns.append(tuple(pg_text(v) for v in (
            sid, turn.index, turn.prompt, turn.started_at, turn.ended_at, tu.input_tokens, tu.output_tokens,
            tu.cache_read_tokens, tu.cache_creation_tokens, dumps(turn.meta or None))))
        for i, s in enumerate(turn.steps):
            steps.append((
                sid, turn.index, i, s.kind, s.role, pg_text(s.text or None), pg_text(s.thinking or None),
                pg_text(s.tool_name), pg_text(s.call_id), dumps(s.input), *pg_output_columns(s.output),
                int(s.is_error), s.exit_code, int(s.interrupted), s.duration_ms, s.timestamp, s.model,
                dumps(s.meta) if s.meta else None))
    return tuple(pg_text(v) for v in _session_row(session, imported_at, origin)), turns, steps


_STEP_READ = ("turn_idx, kind, role, text, thinking, tool_name, call_id, input, output, output_z, is_error, "
                 "exit_code, interrupted, duration_ms, \"timestamp\", model, meta")  # quoted: a PostgreSQL keyword


class SessionsRepo(Repo):
    """Sessions, turns and steps."""

    def save_sessions(self, sessions: list[tuple[Session, str | None]], *,
                      origin: tuple[str | None, str | None] = (None, None)) -> None:
        """Insert or replace many whole sessions, each with its imported_at, in the caller's transaction.
        A sync's batch: on PostgreSQL one COPY per table (a handful of statements for hundreds of
        sessions), on SQLite `save_session` each."""
        if self.dialect != "postgresql":
            for session, imported_at in sessions:
                self.save_session(session, imported_at, origin=origin)
            return
        ids = sorted({session.id for session, _ in sessions})
        if not ids:
            return
        # Writers of the same sessions take turns, locking in id order (no deadlock); see save_session.
        self.db.execute("SELECT pg_advisory_xact_lock(hashtextextended(x, 0)) FROM "
                        "(SELECT x FROM unnest(?::text[]) AS x ORDER BY x) AS ordered", (ids,))
        for table, column in (("steps", "session_id"), ("turns", "session_id"), ("sessions", "id"),
                              ("session_search", "session_id")):
            self.db.execute(f"DELETE FROM {table} WHERE {column} = ANY(?)", (ids,))
        rows, turns, steps = [], [], []
        for session, imported_at in sessions:
            row, t, s = _pg_rows(session, imported_at, origin)
            rows.append(row)
            turns += t
            steps += s
        self.db.copy_rows("sessions", [c.strip() for c in _SESSION_COLUMNS.split(",")], rows)
        self.db.copy_rows("turns", _TURN_COLUMNS, turns)
        self.db.copy_rows("steps", _STEP_COLUMNS, steps)

    def save_session(self, session: Session, imported_at: str | None = None, *,
                     origin: tuple[str | None, str | None] = (None, None)) -> None:
        """Insert or replace a whole session (turns and steps). Call inside a transaction for atomicity.

        `imported_at` defaults to now; a bulk import passes one stamp for all the sessions it writes at once.
        `origin` is (user, host) for a session synced from another machine (None: this one).
        """
        row = _session_row(session, imported_at, origin)
        if self.dialect == "postgresql":
            # Two writers of one session take turns: the second's deletes then see the rows the first wrote
            # (under READ COMMITTED they would otherwise be left, and collide). Deleting first, whatever is
            # there, needs no answer from the server: a sync pipelines whole batches of sessions.
            self.save_sessions([(session, imported_at)], origin=origin)
            return
        if self.db.execute(_SESSION_SQL, row).rowcount == 0:  # the id is taken: replace that session whole
            self.delete_session_rows(session.id)
            self.db.execute(_SESSION_SQL, row)
        turn_rows = []
        messages: list[tuple[Any, ...]] = []
        tools: list[tuple[Any, ...]] = []
        tools_z: list[tuple[Any, ...]] = []
        others: list[tuple[Any, ...]] = []
        sid = session.id
        for turn in session.turns:
            tu = turn.usage
            ti = turn.index
            turn_rows.append(
                (
                    sid, ti, turn.prompt, turn.started_at, turn.ended_at, tu.input_tokens,
                    tu.output_tokens, tu.cache_read_tokens, tu.cache_creation_tokens, dumps(turn.meta or None),
                )
            )
            for i, s in enumerate(turn.steps):
                meta = dumps(s.meta) if s.meta else None
                output = s.output
                if (s.tool_name is None and s.call_id is None and s.input is None and output is None
                        and s.exit_code is None and s.duration_ms is None and not s.is_error and not s.interrupted):
                    messages.append((sid, ti, i, s.kind, s.role, s.text or None, s.thinking or None, s.timestamp,
                                     s.model, meta))
                elif s.text or s.thinking:
                    others.append((sid, ti, i, s.kind, s.role, s.text or None, s.thinking or None, s.tool_name,
                                   s.call_id, dumps(s.input), *output_columns(output), int(s.is_error),
                                   s.exit_code, int(s.interrupted), s.duration_ms, s.timestamp, s.model, meta))
                else:
                    text, blob = output_columns(output)
                    (tools if blob is None else tools_z).append(
                        (sid, ti, i, s.kind, s.role, s.tool_name, s.call_id, dumps(s.input),
                         text if blob is None else blob, int(s.is_error), s.exit_code, int(s.interrupted),
                         s.duration_ms, s.timestamp, s.model, meta))
        db = self.db
        db.executemany("INSERT INTO turns VALUES (?,?,?,?,?,?,?,?,?,?)", turn_rows)
        for sql, rows in ((_STEP_MESSAGE_SQL, messages), (_STEP_TOOL_SQL, tools), (_STEP_TOOL_Z_SQL, tools_z),
                          (_STEP_FULL_SQL, others)):
            if rows:
                db.executemany(sql, rows)
        # ui: the full-text index is derived data, built on demand (refresh_search_index) so that bulk
        # imports don't pay for it; delete_session_rows drops a stale entry.

    def delete_session_rows(self, session_id: str) -> None:
        self.db.execute("DELETE FROM steps WHERE session_id = ?", (session_id,))
        self.db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
        self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        self.db.execute("DELETE FROM session_search WHERE session_id = ?", (session_id,))  # ui

    def session_exists(self, session_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None

    def resolve_session_id(self, prefix: str) -> str:
        """Full id from an id or a unique prefix (as git does for commits)."""
        return self._resolve_id("sessions", prefix, what="session", hint="bashgym sessions list")

    def get_session(self, session_id: str) -> Session:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no session with id {session_id!r}")
        session = Session(
            id=row["id"],
            source=row["source"],
            project=row["project"],
            cwd=row["cwd"],
            git_branch=row["git_branch"],
            git_commit=row["git_commit"],
            models=loads(row["models"]) or [],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            usage=Usage(row["input_tokens"], row["output_tokens"], row["cache_read_tokens"],
                        row["cache_creation_tokens"]),
            parent_id=row["parent_id"],
            agent_version=row["agent_version"],
            title=row["title"],
            source_path=row["source_path"],
            meta=loads(row["meta"]) or {},
            schema_version=row["schema_version"],
        )
        turns: dict[int, Turn] = {}
        for t in self.db.execute("SELECT * FROM turns WHERE session_id = ? ORDER BY idx", (session_id,)):
            turns[t["idx"]] = Turn(
                index=t["idx"],
                prompt=t["prompt"] or "",
                started_at=t["started_at"],
                ended_at=t["ended_at"],
                usage=Usage(t["input_tokens"], t["output_tokens"], t["cache_read_tokens"],
                            t["cache_creation_tokens"]),
                meta=loads(t["meta"]) or {},
            )
        # Named columns unpacked by position: 2x faster than a row's lookups by name on a session's many steps.
        for (turn_idx, kind, role, text, thinking, tool_name, call_id, input_, output, output_z, is_error, exit_code,
             interrupted, duration_ms, timestamp, model, meta) in self.db.execute(
            f"SELECT {_STEP_READ} FROM steps WHERE session_id = ? ORDER BY turn_idx, idx", (session_id,)
        ):
            turns[turn_idx].steps.append(
                Step(
                    kind=kind,
                    role=role or "assistant",
                    text=text or "",
                    thinking=thinking or "",
                    tool_name=tool_name,
                    call_id=call_id,
                    input=loads(input_),
                    output=output if output_z is None else decompress_text(output_z),
                    is_error=bool(is_error),
                    exit_code=exit_code,
                    interrupted=bool(interrupted),
                    duration_ms=duration_ms,
                    timestamp=timestamp,
                    model=model,
                    meta=loads(meta) or {},
                )
            )
        session.turns = [turns[i] for i in sorted(turns)]
        return session

    def child_session_ids(self, session_id: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM sessions WHERE parent_id = ? ORDER BY started_at, id", (session_id,)
            )
        ]

    def _session_where(self, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        unknown = set(filters) - set(SESSION_FILTERS)
        if unknown:
            raise BashgymError(f"unknown session filter(s): {', '.join(sorted(unknown))}")
        clauses: list[str] = []
        params: list[Any] = []
        if filters.get("source"):
            clauses.append("s.source = ?")
            params.append(filters["source"])
        if filters.get("project"):
            clauses.append("(s.project LIKE ? OR s.cwd LIKE ?)")
            params += [f"%{filters['project']}%"] * 2
        if filters.get("model"):
            clauses.append("s.models LIKE ?")
            params.append(f"%{filters['model']}%")
        if filters.get("since"):
            clauses.append("s.started_at >= ?")
            params.append(filters["since"])
        if filters.get("until"):
            clauses.append("s.started_at < ?")
            params.append(filters["until"])
        if filters.get("tier"):  # the effective tier: a label's, else the judge's
            clauses.append(f"{TIER_SQL} = ?")
            params.append(filters["tier"])
        if filters.get("min_score") is not None:
            clauses.append("sc.total >= ?")
            params.append(float(filters["min_score"]))
        if filters.get("max_score") is not None:
            clauses.append("sc.total <= ?")
            params.append(float(filters["max_score"]))
        if filters.get("parent") is not None:
            if filters["parent"] == "":
                clauses.append("s.parent_id IS NULL")
            else:
                clauses.append("s.parent_id = ?")
                params.append(filters["parent"])
        if filters.get("user"):  # a team store: whose machine the session was synced from
            clauses.append("s.origin_user = ?")
            params.append(filters["user"])
        if filters.get("search"):  # full text over prompts, messages, commands and outputs
            self.refresh_search_index()
            match = self._match_clause(filters["search"])
            clauses.append(match[0] if match else "1 = 0")
            params += match[1] if match else []
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return where, params

    def list_sessions(
        self, *, limit: int | None = 50, offset: int = 0, sort: str = "started", descending: bool = True,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Session summaries (no turns) with the judge's session-level score when there is one.

        `tier` is the effective tier (the newest session label's tier, else the judge's); `judged_tier` and
        `label_tier` say which is which.
        """
        order = order_by(sort, descending)
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        sql = (
            "SELECT s.id, s.source, s.project, s.cwd, s.git_branch, s.models, s.started_at, s.ended_at, "
            "s.n_turns, s.n_steps, s.n_tool_calls, s.input_tokens, s.output_tokens, s.cache_read_tokens, "
            "s.cache_creation_tokens, s.parent_id, s.title, s.origin_user, s.origin_host, sc.total AS score, "
            f"{TIER_SQL} AS tier, sc.tier AS judged_tier, {LABEL_TIER_SQL} AS label_tier "
            f"{SCORED_SESSIONS} {where} ORDER BY {order}"
        )
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [decode_row(r, json_lists=("models",)) for r in self.db.execute(sql, params)]

    def count_sessions(self, **filters: Any) -> int:
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        sql = f"SELECT COUNT(*) {SCORED_SESSIONS} {where}"
        return self.db.execute(sql, params).fetchone()[0]

    def iter_session_ids(self, **filters: Any) -> Iterator[str]:
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        sql = f"SELECT s.id {SCORED_SESSIONS} {where} ORDER BY s.started_at, s.id"
        for (sid,) in self.db.execute(sql, params).fetchall():
            yield sid

    def stats(self, **filters: Any) -> dict[str, Any]:
        """Totals for `sessions stats`: counts by source, steps, tool calls, tokens, top tools."""
        where, params = self._session_where({k: v for k, v in filters.items() if v is not None})
        base = f"{SCORED_SESSIONS} {where}"
        row = self.db.execute(
            "SELECT COUNT(*), CAST(COALESCE(SUM(s.n_turns),0) AS BIGINT), CAST(COALESCE(SUM(s.n_steps),0) AS BIGINT), "
            "CAST(COALESCE(SUM(s.n_tool_calls),0) AS BIGINT), CAST(COALESCE(SUM(s.input_tokens),0) AS BIGINT), "
            "CAST(COALESCE(SUM(s.output_tokens),0) AS BIGINT), MIN(s.started_at), MAX(s.started_at), "
            f"CAST(COALESCE(SUM(CASE WHEN s.parent_id IS NOT NULL THEN 1 ELSE 0 END),0) AS BIGINT) {base}",
            params,
        ).fetchone()
        by_source = {
            r[0]: r[1] for r in self.db.execute(f"SELECT s.source, COUNT(*) {base} GROUP BY s.source", params)
        }
        by_tier = {
            (r[0] or "unscored"): r[1]
            for r in self.db.execute(f"SELECT {TIER_SQL} AS t, COUNT(*) {base} GROUP BY t", params)
        }
        tools = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT tool_name, COUNT(*) FROM steps WHERE kind = 'tool_call' AND session_id IN "
                f"(SELECT s.id {base}) GROUP BY tool_name ORDER BY COUNT(*) DESC LIMIT 15",
                params,
            )
        }
        return {
            "sessions": row[0],
            "subagent_sessions": row[8],
            "turns": row[1],
            "steps": row[2],
            "tool_calls": row[3],
            "input_tokens": row[4],
            "output_tokens": row[5],
            "first_started_at": row[6],
            "last_started_at": row[7],
            "by_source": by_source,
            "by_tier": by_tier,
            "top_tools": tools,
        }


    def all_session_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM sessions ORDER BY started_at, id")]

    # ------------------------------------------------------------------------------------------ capture

    def put_session_context(self, session_id: str, *, cwd: str | None, git_commit: str | None,
                            git_branch: str | None, git_dirty: bool | None) -> None:
        """Record a session's starting git state; fill it into the session if that is stored already."""
        self.db.execute(
            upsert_sql("session_context", "session_id, cwd, git_commit, git_branch, git_dirty, recorded_at",
                       "session_id"),
            (session_id, cwd, git_commit, git_branch, None if git_dirty is None else int(git_dirty), now_iso()),
        )
        if git_commit:
            self.db.execute("UPDATE sessions SET git_commit = ? WHERE id = ? AND git_commit IS NULL",
                            (git_commit, session_id))

    def session_context_ids(self) -> set[str]:
        """Ids of every session with a recorded start context (a small table: live-captured sessions)."""
        return {r[0] for r in self.db.execute("SELECT session_id FROM session_context")}

    def session_context(self, session_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM session_context WHERE session_id = ?", (session_id,)).fetchone()
        return dict(row) if row else None


