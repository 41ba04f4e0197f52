"""`bashgym store migrate` and `bashgym sync --to URL`: the store's schema, and a team's shared store."""

from __future__ import annotations

from pathlib import Path

import typer

from bashgym.commands.common import (
    HOME_OPTION,
    JSON_OPTION,
    console,
    err_console,
    print_json,
    progress,
    use_home,
)
from bashgym.errors import BashgymError

store_app = typer.Typer(help="The store itself: its schema (migrate).", no_args_is_help=True)


@store_app.command("migrate")
def migrate(home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Bring the store's schema up to this bashgym's version (a team store is never migrated silently).

    Example: bashgym store migrate --store postgresql://admin@db.internal:5432/bashgym
    """
    from bashgym.store import Store
    from bashgym.store.migrations import migration_names, version_of

    use_home(home)
    with Store.open(migrate_store=True) as store:
        applied, where = store.migrated, store.describe()
    version = version_of(migration_names()[-1])
    if as_json:
        print_json({"store": where, "applied": applied, "version": version})
        return
    if applied:
        console.print(f"migrated {where} to version {version}: applied {', '.join(applied)}", soft_wrap=True)
    else:
        console.print(f"{where} is at version {version} already: nothing to do", soft_wrap=True)


def sync(
    to: str = typer.Option(..., "--to", metavar="URL", help="The team store: postgresql://USER@HOST:PORT/DB "
                           "(password in the URL, PGPASSWORD or ~/.pgpass)."),
    redact: bool = typer.Option(False, "--redact", help="Send only redacted text (secrets and personal data "
                                "replaced), sessions, raw lines, notes and score evidence alike."),
    user: str | None = typer.Option(None, "--user", help="Who the sessions come from (default: $BASHGYM_USER, "
                                    "else your login name)."),
    machine: str | None = typer.Option(None, "--machine", help="Which machine (default: $BASHGYM_MACHINE, else "
                                       "the host name)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Push this machine's sessions (raw lines, scores, labels, curation lists) to a team store.

    Incremental (only what changed since the last sync), idempotent (twice = once) and resumable: after an
    interruption, run it again. Every session is stamped with who and which machine it came from.

    Example: bashgym sync --to postgresql://ana@db.internal:5432/team --redact
    """
    from bashgym.store import Store
    from bashgym.store.connection import is_url, safe_url, scrub
    from bashgym.store.sync import sync as run_sync

    use_home(home)
    if not is_url(to):
        raise BashgymError(f"--to wants a store URL such as postgresql://USER@HOST:PORT/DB, got {safe_url(to)!r}")
    try:
        with Store.open() as local, Store(to) as target:
            if local.describe() == target.describe():
                raise BashgymError(f"--to {target.describe()} is the store being synced from")
            with progress(transient=True) as bar:
                task = bar.add_task(f"sync → {target.describe()}", total=None)
                summary = run_sync(local, target, user=user, machine=machine, redact=redact,
                                   on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "psycopg":
            raise
        first = scrub(str(exc).strip(), to).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BashgymError(f"the team store {safe_url(to)} failed during sync: {first}; what was sent is kept, "
                           "run the same command again to resume") from None
    if as_json:
        print_json(summary.to_dict())
        return
    s = summary
    err_console.print(f"synced to {s.target} as {s.user}@{s.machine}{' (redacted)' if s.redacted else ''}:",
                      soft_wrap=True)
    console.print(
        f"{s.sessions_sent} sessions sent ({s.sessions_unchanged} unchanged), {s.scores_sent} scores, "
        f"{s.labels_sent} labels ({s.labels_new} new there), {s.curation_sent} curation entries, "
        f"{s.raw_files_sent} raw files ({s.raw_chunks_sent} chunks) in {s.seconds:.1f}s", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
    app.command("sync")(sync)
