"""A team store on a real PostgreSQL server: `bashgym sync`, `--store URL` / BASHGYM_STORE_URL on the
commands, many writers at once, credentials kept out of every output, schema versions, damaged files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from bashgym.cli import app
from bashgym.schema import Session, Step, Turn
from bashgym.store import Store
from bashgym.store.codec import decompress
from pg_server import PostgresServer
from test_store import damage_middle, sample

CLI = [sys.executable, "-c", "from bashgym.cli import main; main()"]
runner = CliRunner()


def bg(*args: str) -> dict | str:
    """Run a command in-process; its --json output parsed, else its text. Fails the test on exit != 0."""
    before = os.environ.get("BASHGYM_STORE_URL", "")
    result = runner.invoke(app, list(args))
    os.environ["BASHGYM_STORE_URL"] = before  # --store sets it for the process: here, for this command only
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.output


def bg_proc(home: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command as its own process with its own home (a machine of its own)."""
    environ = {**os.environ, "HOME": str(home), "BASHGYM_HOME": str(home / ".bashgym"), "NO_COLOR": "1", **env}
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, env=environ, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def local_machine(fixtures_dir: Path) -> Store:
    """This machine's store: the recorded Claude Code fixtures imported (raw lines), judged, one label,
    one curation list."""
    bg("import", "claude", str(fixtures_dir / "claude"))
    bg("judge")
    store = Store.open()
    first = store.all_session_ids()[0]
    store.add_label(first, -1, label="good", note="clean fix", author="ana")
    store.add_to_curation_list("review", [first])
    return store


def test_sync_sends_everything_once_then_only_what_changed(fixtures_dir: Path, pg_url: str) -> None:
    local = local_machine(fixtures_dir)
    ids = local.all_session_ids()
    first = bg("sync", "--to", pg_url, "--user", "ana", "--machine", "laptop-7", "--json")
    assert first["sessions_sent"] == len(ids) >= 5 and first["labels_new"] == 1 and first["curation_sent"] == 1
    assert first["raw_files_sent"] == len(local.source_files()) and first["scores_sent"] > len(ids)
    assert first["target"].startswith("postgresql://bashgym_admin:***@")
    with Store(pg_url) as team:
        for sid in ids:  # every session arrives whole, with its scores, and says where it came from
            assert team.get_session(sid).to_dict() == local.get_session(sid).to_dict()
            assert team.scores(sid) == local.scores(sid)
        assert {(r["origin_user"], r["origin_host"]) for r in team.list_sessions(limit=None)} == {("ana", "laptop-7")}
        assert [lab["note"] for lab in team.labels()] == ["clean fix"]
        assert team.curation_list_session_ids("review") == [ids[0]]
        path = local.source_files()[0].path
        assert list(team.raw_lines(f"ana@laptop-7:{path}")) == list(local.raw_lines(path))
    again = bg("sync", "--to", pg_url, "--user", "ana", "--machine", "laptop-7", "--json")
    assert (again["sessions_sent"], again["sessions_unchanged"], again["labels_sent"], again["raw_files_sent"],
            again["scores_sent"]) == (0, len(ids), 0, 0, 0)
    # one session re-imported, one more label: only those go
    with local.transaction():
        local.save_session(local.get_session(ids[1]))
    local.add_label(ids[2], 0, label="bad", author="ana")
    third = bg("sync", "--to", pg_url, "--user", "ana", "--machine", "laptop-7", "--json")
    assert (third["sessions_sent"], third["labels_sent"], third["labels_new"]) == (1, 1, 1)
    with Store(pg_url) as team:
        assert team.count_sessions() == len(ids) and len(team.labels()) == 2
    local.close()


def test_sync_after_kill_9_resumes_and_duplicates_nothing(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "m"
    with Store(home / ".bashgym" / "bashgym.db") as local, local.transaction():
        for i in range(400):
            local.save_session(sample(f"k{i:04d}", output=f"output {i} " * 40))
    Store(pg_url).close()
    env = {**os.environ, "HOME": str(home), "BASHGYM_HOME": str(home / ".bashgym"), "BASHGYM_SYNC_BATCH": "10"}
    proc = subprocess.Popen([*CLI, "sync", "--to", pg_url], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    with Store(pg_url) as team:
        deadline = time.monotonic() + 120
        while team.count_sessions() < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sent_before = team.count_sessions()
    assert 20 <= sent_before < 400, "the sync finished before it could be killed: grow the store"
    rerun = bg_proc(home, "sync", "--to", pg_url, "--json")
    summary = json.loads(rerun.stdout)
    assert summary["sessions_sent"] + summary["sessions_unchanged"] == 400
    assert summary["sessions_sent"] <= 400 - sent_before + 10  # at most the one unrecorded batch again
    with Store(pg_url) as team:
        assert team.count_sessions() == 400
        assert team.db.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 3 * 400
        assert team.get_session("k0399").to_dict() == sample("k0399", output="output 399 " * 40).to_dict()


def _machine(home: str, url: str, n: int) -> None:
    """One machine: its own store file; it syncs while a thread labels on the team store."""
    from bashgym.store.sync import sync

    def label() -> None:
        with Store(url) as team:
            for i in range(4):
                team.add_label("target-session", -1, label="bad", note=f"from {n}/{i}", author=f"u{n}")

    labeller = threading.Thread(target=label)
    labeller.start()
    with Store(Path(home) / "bashgym.db") as local, Store(url) as team:
        sync(local, team, user=f"u{n}", machine=f"m{n}")
    labeller.join()


def test_eight_machines_syncing_and_labelling_at_once_lose_and_duplicate_nothing(tmp_path: Path,
                                                                                   pg_url: str) -> None:
    """8 processes with their own stores sync into one store while labelling on it: every session once,
    every label once, sessions present on every machine (the same id) whole."""
    import multiprocessing

    with Store(pg_url) as team, team.transaction():
        team.save_session(sample("target-session"))
    homes = []
    for n in range(8):
        home = tmp_path / f"m{n}"
        with Store(home / "bashgym.db") as local:
            with local.transaction():
                for i in range(15):
                    local.save_session(sample(f"m{n}-{i}", output=f"machine {n} session {i}"))
                for k in range(3):  # the same sessions on every machine
                    local.save_session(sample(f"shared-{k}", output="the same everywhere"))
            for i in range(3):
                local.add_label(f"m{n}-{i}", -1, label="good", author=f"u{n}")
        homes.append(home)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_machine, args=(str(home), pg_url, n)) for n, home in enumerate(homes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    with Store(pg_url) as team:
        assert team.count_sessions() == 8 * 15 + 3 + 1
        assert team.db.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 3 * (8 * 15 + 3 + 1)
        assert len(team.labels()) == 8 * 3 + 8 * 4
        assert sorted(lab["note"] for lab in team.labels("target-session")) == sorted(
            f"from {n}/{i}" for n in range(8) for i in range(4))
        for k in range(3):
            assert team.get_session(f"shared-{k}").to_dict() == sample(f"shared-{k}", "the same everywhere").to_dict()
        assert team.count_sessions(user="u3") >= 15
    home = homes[0]  # and a second round sends nothing (through the command this time)
    again = bg_proc(tmp_path, "sync", "--to", pg_url, "--store", str(home / "bashgym.db"), "--user", "u0",
                    "--machine", "m0", "--json")
    assert json.loads(again.stdout)["sessions_sent"] == 0


def test_a_judge_concurrent_with_a_sync_never_leaves_stale_scores(tmp_path: Path, pg_url: str) -> None:
    """Sessions change (a failing run becomes a passing one) and are synced while a judge rescores the team
    store in a loop: afterwards every score the store calls fresh is the score of the current content."""
    from bashgym.judge.config import JudgeConfig
    from bashgym.judge.runner import judge_session

    def version(sid: str, passing: bool) -> Session:
        out, code = ("5 passed", 0) if passing else ("1 failed, 4 passed", 1)
        return Session(id=sid, source="claude_code", started_at="2026-11-20T10:00:00Z", turns=[Turn(
            index=0, prompt="fix the test", steps=[
                Step(kind="tool_call", tool_name="Bash", input={"command": "pytest"}, output=out, exit_code=code,
                     is_error=not passing),
                Step(kind="message", text="done")])])

    ids = [f"j{i}" for i in range(30)]
    local = Store(tmp_path / "local.db")
    with local.transaction():
        for sid in ids:
            local.save_session(version(sid, passing=False))
    from bashgym.store.sync import sync

    team = Store(pg_url)
    sync(local, team)
    config = JudgeConfig()
    stop = threading.Event()
    errors: list[BaseException] = []

    def judge_loop() -> None:
        try:
            with Store(pg_url) as judge_store:
                while not stop.is_set():
                    for sid in ids:
                        judge_session(judge_store, sid, config)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=judge_loop)
    worker.start()
    for sid in ids:  # each session changes, then is synced, while the judge runs
        with local.transaction():
            local.save_session(version(sid, passing=True))
        sync(local, team)
    stop.set()
    worker.join()
    assert not errors
    pending = set(team.unscored_session_ids())
    for sid in ids:
        if sid in pending:
            continue  # the store knows it needs scoring
        fresh, _ = judge_session(Store(pg_url), sid, config)
        stored = [s for s in team.scores(sid, "heuristic") if s["turn_idx"] == -1][0]
        assert stored["total"] == fresh.total, sid
    team.close()
    local.close()


def test_credentials_never_appear_in_errors_json_or_the_ui(fixtures_dir: Path, pg_server: PostgresServer,
                                                          pg_url: str) -> None:
    password = pg_server.password
    local = local_machine(fixtures_dir)
    local.close()
    out = runner.invoke(app, ["sync", "--to", pg_url, "--json"]).output
    stats = runner.invoke(app, ["sessions", "stats", "--store", pg_url, "--json"]).output
    home = Path(os.environ["HOME"])
    wrong = bg_proc(home, "sessions", "list", "--store", pg_url.replace(password, "hunter2-wrong"), check=False)
    gone = bg_proc(home, "sync", "--to", pg_url.replace(str(pg_server.port), "1"), check=False)
    assert wrong.returncode == 1 and "refused the user name or password" in wrong.stderr
    assert gone.returncode == 1 and "cannot be reached" in gone.stderr
    assert "Traceback" not in wrong.stderr + gone.stderr
    from fastapi.testclient import TestClient

    from bashgym.ui.app import create_app

    html = TestClient(create_app(pg_url)).get("/sessions").text
    for text in (out, stats, wrong.stderr, gone.stderr, html):
        assert password not in text and "hunter2-wrong" not in text
    assert "bashgym_admin:***@" in stats


def test_ui_on_a_team_store_shows_who_and_filters_by_person(pg_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from bashgym.store.sync import sync
    from bashgym.ui.app import create_app

    with Store(pg_url) as team:
        for person in ("ana", "bo"):
            with Store(tmp_path / f"{person}.db") as local:
                with local.transaction():
                    local.save_session(sample(f"{person}-1", output=f"{person} ran make"))
                sync(local, team, user=person, machine=f"{person}-laptop")
    client = TestClient(create_app(pg_url))
    page = client.get("/sessions").text
    assert "from ana@ana-laptop" in page and "from bo@bo-laptop" in page and '<select name="user"' in page
    only_bo = client.get("/sessions", params={"user": "bo"}).text
    assert "bo-1" in only_bo and "ana-1" not in only_bo
    api = client.get("/api/sessions", params={"user": "ana", "q": "make"}).json()
    assert [r["id"] for r in api["sessions"]] == ["ana-1"] and api["sessions"][0]["origin_host"] == "ana-laptop"


def test_commands_on_the_team_store_give_the_same_results_as_on_sqlite(fixtures_dir: Path, pg_url: str) -> None:
    local_machine(fixtures_dir).close()
    bg("sync", "--to", pg_url)
    sid = Store.open().all_session_ids()[0]

    def without_origin(value: object) -> object:
        """Where a row came from is what differs (a label's origin, a session's user/machine, the store)."""
        if isinstance(value, dict):
            return {k: without_origin(v) for k, v in value.items()
                    if k not in ("origin", "origin_user", "origin_host", "store", "seconds")}
        return [without_origin(v) for v in value] if isinstance(value, list) else value

    def outputs(*store: str) -> list:
        return [without_origin(bg(*args, *store)) for args in (
            ["sessions", "list", "--json"], ["sessions", "stats", "--json"], ["sessions", "show", sid, "--json"],
            ["judge", "--rescore", "--json"], ["sessions", "list", "--sort", "tier", "--search", "test", "--json"])]

    assert outputs() == outputs("--store", pg_url)
    # the factory reads the team store through its worker processes: the same rows, byte for byte
    local_build = bg("dataset", "build", "--name", "same", "--json")
    team_build = bg("dataset", "build", "--name", "same", "--json", "--store", pg_url)
    assert team_build["content_hash"] == local_build["content_hash"] and team_build["counts"]["examples"] > 0
    # and the team runs really were on the team store
    assert bg("sessions", "stats", "--json", "--store", pg_url)["store"].startswith("postgresql://bashgym_admin:***@")
    with Store(pg_url) as team:
        assert [d["name"] for d in team.list_datasets()] == ["same"]
    bg("label", sid, "tier=silver", "--store", pg_url)
    with Store(pg_url) as team:
        assert team.list_sessions(limit=None, tier="silver")[0]["id"] == sid


def test_an_older_team_store_asks_for_store_migrate_and_a_newer_one_is_refused(pg_url: str) -> None:
    with Store(pg_url, migrate=False) as old:
        old.migrate(stop_before="m007_team_origin")
    refused = bg_proc(Path(os.environ["HOME"]), "sessions", "list", "--store", pg_url, check=False)
    assert refused.returncode == 1
    assert "schema version 6 (m006_session_context); this bashgym needs version 7" in refused.stderr
    assert "bashgym store migrate" in refused.stderr
    done = bg("store", "migrate", "--store", pg_url, "--json")
    assert done["applied"] == ["m007_team_origin"] and done["version"] == 7
    assert "at version 7 already" in bg("store", "migrate", "--store", pg_url)
    assert bg("sessions", "list", "--store", pg_url, "--json") == []


def test_least_privilege_roles_from_the_docs_sync_and_read(fixtures_dir: Path, pg_server: PostgresServer,
                                                          pg_url: str) -> None:
    """The role set-up docs/team-store.md shows: an owner migrates, a writer syncs, a reader reads only."""
    import psycopg

    db = pg_url.rsplit("/", 1)[1]
    doc = (Path(__file__).parents[1] / "docs" / "team-store.md").read_text()
    sql = doc.split("```sql\n", 1)[1].split("```", 1)[0]
    for old, new in (("bashgym_team", db), ("owner-password", "o-pw"), ("writer-password", "w-pw"),
                     ("reader-password", "r-pw")):
        sql = sql.replace(old, new)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in [s for s in sql.split(";") if s.strip()]:
            conn.execute(statement)
    owner = pg_server.url(db, "bashgym_owner", "o-pw")
    bg("store", "migrate", "--store", owner)
    local_machine(fixtures_dir).close()
    writer, reader = pg_server.url(db, "bashgym_writer", "w-pw"), pg_server.url(db, "bashgym_reader", "r-pw")
    assert bg("sync", "--to", writer, "--json")["sessions_sent"] >= 5
    assert len(bg("sessions", "list", "--store", reader, "--json")) >= 5
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the grants the docs give after migrating
        grants = doc.split("tables exist then)", 1)[1].split("```\n", 2)[1]
        for statement in [s for s in grants.split(";") if s.strip()]:
            conn.execute(statement)
    assert bg("sessions", "list", "--search", "test", "--store", reader, "--json")  # the reader indexes
    sid = Store.open().all_session_ids()[0]
    denied = bg_proc(Path(os.environ["HOME"]), "label", sid, "good", "--store", reader, check=False)
    assert denied.returncode == 1 and "permission denied" in denied.stderr and "r-pw" not in denied.stderr


def test_a_damaged_or_empty_sqlite_store_gives_a_message_in_every_command(tmp_path: Path) -> None:
    home = tmp_path / "h"
    path = home / ".bashgym" / "bashgym.db"
    with Store(path) as store, store.transaction():
        for i in range(300):
            store.save_session(sample(f"s{i:03d}", output=os.urandom(1500).hex()))
    damage_middle(path)
    failed = []
    for args in (["sessions", "stats"], ["sessions", "list"], ["sessions", "show", "s150"], ["judge"],
                 ["sessions", "list", "--search", "s150"]):
        result = bg_proc(home, *args, check=False)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        if result.returncode:  # a command that reads a damaged page says so (one that never does succeeds)
            assert result.returncode == 1 and "is damaged" in result.stderr and str(path) in result.stderr, args
            failed.append(args[-1])
    assert "stats" in failed
    path.write_bytes(b"")
    result = bg_proc(home, "sessions", "list", check=False)
    assert result.returncode == 1 and "empty file (0 bytes)" in result.stderr and path.stat().st_size == 0


def test_redacted_sync_sends_no_secret(tmp_path: Path, pg_url: str) -> None:
    from bashgym.store.sync import sync

    key = "AKIA" + "5Q3EGRZPJ4K7XL2B"
    secret_session = sample("sec-1", output=f"export AWS_ACCESS_KEY_ID={key}\nmail ana.lopez@bigcorp.com")
    with Store(tmp_path / "l.db") as local, Store(pg_url) as team:
        with local.transaction():
            local.save_session(secret_session)
        summary = sync(local, team, redact=True)
        assert summary.redacted and summary.sessions_sent == 1
        sent = json.dumps(team.get_session("sec-1").to_dict())
        assert key not in sent and "ana.lopez@bigcorp.com" not in sent and "<SECRET_1>" in sent
        raw = b"".join(decompress(r[0]) for r in team.db.execute("SELECT data FROM raw_chunks").fetchall())
        assert key.encode() not in raw


def test_every_command_takes_store_url() -> None:
    """`--store URL` is on every command and group (cli.with_store_option), so any of them can run
    against a team store."""
    import typer.main

    def walk(command: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
        if hasattr(command, "commands"):  # a group
            found = [(path, command)] if path and command.callback is not None else []
            for name, sub in command.commands.items():
                found += walk(sub, (*path, name))
            return found
        return [(path, command)]

    commands = walk(typer.main.get_command(app), ())
    assert len(commands) > 20
    missing = [" ".join(path) for path, c in commands
               if "--store" not in [opt for p in c.params for opt in getattr(p, "opts", [])]]
    assert missing == []


def test_train_and_eval_run_on_the_team_store(fixtures_dir: Path, pg_url: str) -> None:
    """The rest of the flywheel on the team store: a dataset built there trains an adapter whose run is recorded
    there, and an eval of it stores its rollouts (gym sessions) and results there, none of it in the local store."""
    from bashgym.gym.task import load_suite
    from harness.tiny_model import tiny_model_dir

    local_machine(fixtures_dir).close()
    bg("sync", "--to", pg_url)
    built = bg("dataset", "build", "--name", "team", "--tools", "bash", "--json", "--store", pg_url)
    run = bg("train", "sft", "--base-model", str(tiny_model_dir()), "--dataset", built["id"], "--max-steps", "2",
             "--json", "--store", pg_url)
    assert run["metrics"]["steps"] == 2
    bg("eval", "--model", str(tiny_model_dir()), "--adapter", run["run_id"], "--tasks", "practice", "-k", "1",
       "--max-turns", "1", "--max-tokens", "16", "--json", "--store", pg_url)
    n_practice = len(load_suite("practice"))
    with Store(pg_url) as team:
        assert [r["id"] for r in team.list_runs()] == [run["run_id"]]
        [ev] = team.list_evals()
        assert ev["adapter_run_id"] == run["run_id"] and len(team.rollouts(ev["id"])) == n_practice
        assert team.count_sessions(source="gym") == n_practice
    with Store.open() as local:
        assert local.list_runs() == [] and local.list_evals() == [] and local.count_sessions(source="gym") == 0
