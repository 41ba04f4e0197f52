"""`bashgym import <source> [PATH]`: bring agent transcripts into the store, with progress and a summary."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from bashgym.commands.common import (
    HOME_OPTION,
    JSON_OPTION,
    console,
    err_console,
    open_store,
    print_json,
    progress,
)
from bashgym.sources.base import SourceFormat
from bashgym.sources.importer import ImportSummary, file_size, import_paths, rederive

import_app = typer.Typer(help="Import agent transcripts into the store (idempotent, incremental, resumable).",
                         no_args_is_help=True)


def run_import(fmt: SourceFormat, root: Path | None, home: Path | None, as_json: bool, again: bool = False) -> ImportSummary:
    """Discover a source's files under root (its default when None), import them, print a summary."""
    root = (root or fmt.default_root()).expanduser()
    with open_store(home) as store:
        if again:
            summary = rederive(store, fmt)
        else:
            files = fmt.discover(root)
            sizes = {f: file_size(f) for f in files}
            with progress(transient=as_json) as bar:
                task = bar.add_task(f"import {fmt.name}", total=max(1, sum(sizes.values())))
                summary = import_paths(store, fmt, files, on_file=lambda p, _r: bar.advance(task, sizes.get(p, 0)))
    if as_json:
        print_json({"source": fmt.name, "root": str(root), **summary.to_dict()})
    else:
        print_summary(fmt.name, root, summary)
    return summary


def print_summary(name: str, root: Path, s: ImportSummary) -> None:
    if s.files == 0:
        console.print(f"[yellow]no {name} files found under {root}[/yellow]")
        return
    table = Table(title=f"import {name}: {root}", show_header=False)
    for label, value in (("files", f"{s.files} ({s.files_read} new or grown)"),
                         ("read", f"{s.bytes_read / 1e6:.1f} MB, {s.new_lines} lines"),
                         ("sessions", f"{s.sessions} written"), ("steps", s.steps),
                         ("skipped lines", s.skipped_lines), ("pending lines", s.pending_lines)):
        table.add_row(label, str(value))
    console.print(table)
    for path, line, error in s.errors[:20]:
        err_console.print(f"[yellow]{path}:{line}: {error}[/yellow]")
    if len(s.errors) > 20:
        err_console.print(f"… {len(s.errors) - 20} more (see `bashgym sessions stats --json`)")
    for path, error in s.failed_files:
        err_console.print(f"[red]{path}: {error}[/red]")


@import_app.command("claude")
def import_claude(
    path: Path | None = typer.Argument(None, help="A transcript file or directory (default ~/.claude/projects)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw lines instead of reading files."),
) -> None:
    """Import Claude Code transcripts.

    Example: bashgym import claude ~/.claude/projects
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("claude"), path, home, as_json, rederive_)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
