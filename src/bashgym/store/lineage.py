"""Lineage: what the factory built, what training and eval produced, so an adapter traces back to the
sessions it learned from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bashgym.errors import NotFoundError
from bashgym.store.base import Repo, upsert_sql
from bashgym.store.codec import decode_row, dumps, now_iso

_DATASET = {"json_dicts": ("config", "counts"), "bools": ("redacted",)}
_RUN = _EVAL = {"json_dicts": ("config", "metrics")}


class LineageRepo(Repo):
    """datasets + dataset_sessions, runs, evals + rollouts."""

    # ------------------------------------------------------------------------------------------ factory
    # Built datasets and the sessions each drew from (lineage: an adapter traces back to its sessions).

    def next_dataset_version(self, name: str) -> int:
        row = self.db.execute("SELECT MAX(version) FROM datasets WHERE name = ?", (name,)).fetchone()
        return int(row[0] or 0) + 1

    def add_dataset(
        self, dataset_id: str, *, name: str, version: int, path: str, config: dict[str, Any],
        counts: dict[str, Any], content_hash: str, redacted: bool, session_ids: Iterable[str],
    ) -> None:
        """Record a built dataset and its source sessions in one transaction."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO datasets VALUES (?,?,?,?,?,?,?,?,?)",
                (dataset_id, name, version, path, dumps(config), dumps(counts), content_hash, int(redacted),
                 now_iso()),
            )
            self.db.executemany(
                "INSERT INTO dataset_sessions VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(dataset_id, sid) for sid in sorted(set(session_ids))],
            )

    def list_datasets(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM datasets" + (" WHERE name = ?" if name else "") + " ORDER BY created_at DESC, id"
        return [decode_row(r, **_DATASET) for r in self.db.execute(sql, (name,) if name else ())]

    def resolve_dataset_id(self, ref: str | None) -> str:
        """A dataset id from an id, a unique id prefix, a name (its newest version) or None (the newest)."""
        if ref is None:
            row = self.db.execute("SELECT id FROM datasets ORDER BY created_at DESC, id LIMIT 1").fetchone()
            if row is None:
                raise NotFoundError("no datasets yet (build one with `bashgym dataset build`)")
            return row[0]
        if self.db.execute("SELECT 1 FROM datasets WHERE id = ?", (ref,)).fetchone():
            return ref
        row = self.db.execute(
            "SELECT id FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1", (ref,)
        ).fetchone()
        if row:
            return row[0]
        known = [r[0] for r in self.db.execute("SELECT id FROM datasets")]
        return self._resolve_id("datasets", ref, what="dataset", hint="bashgym dataset list", known=known)

    def get_dataset(self, ref: str | None) -> dict[str, Any]:
        dataset_id = self.resolve_dataset_id(ref)
        return next(d for d in self.list_datasets() if d["id"] == dataset_id)

    def dataset_row(self, dataset_id: str) -> dict[str, Any] | None:
        """A built dataset's row (path, counts, ...) or None; training resolves dataset ids with it."""
        row = self.db.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        return None if row is None else decode_row(row, json_dicts=("config", "counts"))

    def dataset_session_ids(self, dataset_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT session_id FROM dataset_sessions WHERE dataset_id = ? ORDER BY session_id", (dataset_id,))]

    # ------------------------------------------------------------------------------------------ train

    def create_run(
        self, run_id: str, kind: str, *, dataset_id: str | None, base_model: str, config: dict[str, Any],
        output_dir: str, status: str = "running",
    ) -> None:
        """Record a training run as it starts, so an interrupted run is still listed (and resumable)."""
        self.db.execute(
            "INSERT INTO runs (id, kind, status, dataset_id, base_model, config, metrics, output_dir, created_at, "
            "finished_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, kind, status, dataset_id, base_model, dumps(config), None, output_dir, now_iso(), None),
        )

    def update_run(
        self, run_id: str, *, status: str | None = None, metrics: dict[str, Any] | None = None,
        finished: bool | None = None,
    ) -> None:
        """Change a run's status and/or metrics; finished=True stamps finished_at, False clears it (resume)."""
        sets: list[str] = []
        params: list[Any] = []
        if status is not None:
            sets.append("status = ?")
            params.append(status)
        if metrics is not None:
            sets.append("metrics = ?")
            params.append(dumps(metrics))
        if finished is not None:
            sets.append("finished_at = ?")
            params.append(now_iso() if finished else None)
        if not sets:
            return
        self.db.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?", (*params, run_id))

    def resolve_run_id(self, prefix: str) -> str:
        """Full run id from an id or a unique prefix."""
        return self._resolve_id("runs", prefix, what="run", hint="bashgym runs list")

    def get_run(self, run_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (self.resolve_run_id(run_id),)).fetchone()
        return decode_row(row, **_RUN)

    def list_runs(self, kind: str | None = None, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT * FROM runs WHERE 1 = 1"
        params: list[Any] = []
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if status:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        return [decode_row(r, **_RUN) for r in self.db.execute(sql, (*params, limit))]

    def run_by_output_dir(self, output_dir: str) -> dict[str, Any] | None:
        """The newest run that wrote into `output_dir` (a resume reuses its row)."""
        row = self.db.execute(
            "SELECT * FROM runs WHERE output_dir = ? ORDER BY created_at DESC LIMIT 1", (output_dir,)
        ).fetchone()
        return None if row is None else decode_row(row, **_RUN)

    def run_session_ids(self, run_id: str) -> list[str]:
        """The sessions a run learned from: its dataset's sessions."""
        rows = self.db.execute(
            "SELECT ds.session_id FROM runs r JOIN dataset_sessions ds ON ds.dataset_id = r.dataset_id "
            "WHERE r.id = ? ORDER BY ds.session_id",
            (run_id,),
        )
        return [r[0] for r in rows]

    # ------------------------------------------------------------------------------------------ eval

    def create_eval(
        self, eval_id: str, *, model: str, adapter_run_id: str | None, suite: str, k: int,
        config: dict[str, Any],
    ) -> None:
        """Record an eval as it starts (a resumed eval keeps its row and created_at)."""
        self.db.execute(
            "INSERT INTO evals (id, model, adapter_run_id, suite, k, config, metrics, created_at) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING",
            (eval_id, model, adapter_run_id, suite, k, dumps(config), None, now_iso()),
        )

    def set_eval_metrics(self, eval_id: str, metrics: dict[str, Any]) -> None:
        self.db.execute("UPDATE evals SET metrics = ? WHERE id = ?", (dumps(metrics), eval_id))

    def get_eval(self, eval_id: str) -> dict[str, Any]:
        """An eval by id or unique id prefix."""
        full = self._resolve_id("evals", eval_id, what="eval", hint="bashgym eval list")
        return decode_row(self.db.execute("SELECT * FROM evals WHERE id = ?", (full,)).fetchone(), **_EVAL)

    def list_evals(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM evals ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))
        return [decode_row(r, **_EVAL) for r in rows]

    def latest_eval(self, *, model: str, adapter_run_id: str | None, suite: str, k: int) -> dict[str, Any] | None:
        """The newest eval of the same model, adapter, suite and k: what `bashgym eval --resume` continues."""
        row = self.db.execute(
            "SELECT * FROM evals WHERE model = ? AND adapter_run_id IS NOT DISTINCT FROM ? AND suite = ? AND k = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (model, adapter_run_id, suite, k),
        ).fetchone()
        return None if row is None else decode_row(row, **_EVAL)

    def put_rollout(
        self, eval_id: str, task_id: str, sample_idx: int, *, session_id: str | None, reward: float | None,
        status: str, detail: dict[str, Any],
    ) -> None:
        """One sample's outcome; status is passed | failed | error (error = no score, rerun on resume)."""
        self.db.execute(
            upsert_sql("rollouts", "eval_id, task_id, sample_idx, session_id, reward, status, detail, created_at",
                       "eval_id, task_id, sample_idx"),
            (eval_id, task_id, sample_idx, session_id, reward, status, dumps(detail), now_iso()),
        )

    def rollouts(self, eval_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM rollouts WHERE eval_id = ? ORDER BY task_id, sample_idx", (eval_id,))
        return [decode_row(r, json_dicts=("detail",)) for r in rows]

    def session_rollouts(self, session_id: str) -> list[dict[str, Any]]:
        """The eval samples a (gym) session was the rollout of: which eval, task, status and reward."""
        rows = self.db.execute("SELECT * FROM rollouts WHERE session_id = ? ORDER BY eval_id, task_id, sample_idx",
                               (session_id,))
        return [decode_row(r, json_dicts=("detail",)) for r in rows]
