"""`bashgym import <source> [PATH]`: bring agent transcripts into the store, with progress and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import Progress, TaskID
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
from bashgym.errors import NotFoundError
from bashgym.sources.base import SourceFormat
from bashgym.sources.importer import ImportSummary, file_size, import_paths, rederive
from bashgym.store import Store

REDACT_OPTION = typer.Option(
    False, "--redact", help="Store only redacted text, raw lines included, for this import (always, with "
    "`bashgym config set capture.redact true`).")

WORKERS_OPTION = typer.Option(
    1, "--workers", min=1, help="Processes that import at once (a share of the files each; one parses while "
    "another writes), e.g. 2 on two cores. A redacting import runs in one.")

import_app = typer.Typer(help="Import agent transcripts into the store (idempotent, incremental, resumable).",
                         invoke_without_command=True)


@import_app.callback()
def _import(ctx: typer.Context) -> None:
    """Bare `bashgym import` lists the sources it can read and whether each is found on this machine."""
    if ctx.invoked_subcommand is not None:
        return
    from bashgym.sources.registry import all_sources

    table = Table(title="sources (`bashgym import <source> [PATH]`, or all found: `bashgym import all`)")
    for col in ("source", "default location", "found"):
        table.add_column(col)
    for fmt in all_sources():
        root = fmt.default_root().expanduser()
        table.add_row(fmt.name, str(root), "yes" if root.exists() else "-")
    table.add_row("file", "a .jsonl/.json/.parquet file or HF datasets dir you name", "")
    console.print(table)


ImportPlan = tuple[list[Path], dict[Path, int], TaskID]


def plan_import(fmt: SourceFormat, root: Path, bar: Progress) -> ImportPlan:
    """A source's files under root, their sizes, and a progress bar measured in bytes."""
    files = fmt.discover(root)
    sizes = {f: file_size(f) for f in files}
    return files, sizes, bar.add_task(f"import {fmt.name}", total=max(1, sum(sizes.values())))


def import_with_bar(store: Store, fmt: SourceFormat, plan: ImportPlan, bar: Progress,
                    redactor: Any = None, workers: int = 1) -> ImportSummary:
    files, sizes, task = plan
    summary = import_paths(store, fmt, files, on_file=lambda p, _r: bar.advance(task, sizes.get(p, 0)),
                           redactor=redactor, workers=workers)
    bar.update(task, completed=max(1, sum(sizes.values())))
    return summary


def run_import(fmt: SourceFormat, root: Path | None, home: Path | None, as_json: bool, again: bool = False,
               redact: bool = False, workers: int = 1) -> ImportSummary:
    """Discover a source's files under root (its default when None), import them, print a summary; only
    redacted text is stored with `redact` or the capture.redact setting."""
    from bashgym.factory.apply_redaction import capture_redactor

    if root is not None and not again and not root.expanduser().exists():  # a typo, not "nothing to import"
        raise NotFoundError(f"no such file or directory: {root} (give a {fmt.name} transcript file or "
                            f"directory, or leave PATH out to read {fmt.default_root()})")
    root = (root or fmt.default_root()).expanduser()
    with open_store(home) as store:
        redactor = capture_redactor(force=redact)
        if again:
            summary = rederive(store, fmt, redactor=redactor)
        else:
            with progress(transient=as_json) as bar:
                summary = import_with_bar(store, fmt, plan_import(fmt, root, bar), bar, redactor, workers)
        if redactor is not None and not as_json:
            console.print(f"redacted before storing: {redactor.report()['total']} values")
    if as_json:
        print_json({"source": fmt.name, "root": str(root), **summary.to_dict()})
    else:
        print_summary(fmt.name, root, summary)
    return summary


def print_summary(name: str, root: Path, s: ImportSummary) -> None:
    if s.files == 0:
        where = "under" if root.exists() else "at"
        missing = "" if root.exists() else " (it does not exist)"
        console.print(f"[yellow]no {name} files found {where} {escape(str(root))}{missing}[/yellow]", soft_wrap=True)
        console.print(f"next: pass the directory or file that holds them: `bashgym import {name} PATH`"
                      + ("; to capture new Claude Code sessions as they happen: `bashgym hooks install`"
                         if name == "claude" else ""), soft_wrap=True)
        return
    console.print(f"import {name}: {escape(str(root))}", soft_wrap=True)  # a title would wrap a path mid-word
    table = Table(show_header=False)
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
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import Claude Code transcripts.

    Example: bashgym import claude ~/.claude/projects
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("claude"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("codex")
def import_codex(
    path: Path | None = typer.Argument(None, help="A rollout file or directory (default ~/.codex/sessions)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw lines instead of reading files."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import OpenAI Codex CLI rollouts (messages, reasoning, shell/apply_patch calls, exit codes, tokens).

    Example: bashgym import codex ~/.codex/sessions
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("codex"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("gemini")
def import_gemini(
    path: Path | None = typer.Argument(None, help="A chat/checkpoint file or directory (default ~/.gemini/tmp)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw files instead of reading them."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import Gemini CLI chat recordings (chats/session-*.jsonl|json) and checkpoints.

    Example: bashgym import gemini ~/.gemini/tmp
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("gemini"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("opencode")
def import_opencode(
    path: Path | None = typer.Argument(
        None, help="OpenCode's data dir, its opencode.db, its storage/ directory or one session file "
                   "(default $XDG_DATA_HOME or ~/.local/share/opencode)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored bundles instead of reading files."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import OpenCode sessions: the SQLite store of OpenCode 1.2+ (opencode.db, opened read-only) and the
    session/message/part JSON files of older versions.

    Example: bashgym import opencode ~/.local/share/opencode/opencode.db
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("opencode"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("mini-swe-agent")
def import_mini_swe_agent(
    path: Path | None = typer.Argument(
        None, help="A trajectory file (*.traj.json) or a directory of them (default ~/.config/mini-swe-agent)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw files instead of reading them."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import mini-swe-agent trajectories: the task, the model's messages, every bash command with its output
    and exit code, usage, and how the run ended.

    Example: bashgym import mini-swe-agent ~/.config/mini-swe-agent/last_mini_run.traj.json
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("mini-swe-agent"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("aider")
def import_aider(
    path: Path | None = typer.Argument(
        None, help="A .aider.chat.history.md, or a directory searched for them (default: your home directory, "
                   "6 levels down, skipping hidden directories, node_modules and virtualenvs)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw files instead of reading them."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import Aider chat histories: one session per aider start, the prompts, the model's replies, its
    SEARCH/REPLACE edits as diffs, the shell commands aider ran (their output is not in the history), commits,
    model, token counts and aider's version.

    Example: bashgym import aider ~/code/myproject
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("aider"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("qwen")
def import_qwen(
    path: Path | None = typer.Argument(
        None, help="A Qwen Code chat (.jsonl) or a directory of them (default ~/.qwen/projects; QWEN_RUNTIME_DIR or "
                   "QWEN_HOME when set)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw lines instead of reading files."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import Qwen Code chats: prompts, replies, reasoning, tool calls with their results, shell exit codes, edits
    as diffs, model, token usage and the CLI's version (the live branch after a rewind).

    Example: bashgym import qwen ~/.qwen/projects
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("qwen"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("cline")
def import_cline(
    path: Path | None = typer.Argument(
        None, help="A Cline CLI session (<id>.messages.json) or a directory of them (default ~/.cline/data/sessions; "
                   "CLINE_DATA_DIR or CLINE_DIR when set)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw files instead of reading them."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import Cline CLI (3.x) sessions: prompts, replies, reasoning, tool calls with their results, each shell
    command's exit code, edits with their diffs, model, token usage and the CLI's version.

    Example: bashgym import cline ~/.cline/data/sessions
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("cline"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("copilot")
def import_copilot(
    path: Path | None = typer.Argument(
        None, help="A GitHub Copilot CLI session (events.jsonl) or a directory of them (default "
                   "~/.copilot/session-state; COPILOT_HOME when set)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored raw lines instead of reading files."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import GitHub Copilot CLI sessions: prompts, replies, reasoning, tool calls with their results, shell exit
    codes, edits as diffs, models, token usage and the CLI's version (resumed runs continue their session).

    Example: bashgym import copilot ~/.copilot/session-state
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("copilot"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("openhands")
def import_openhands(
    path: Path | None = typer.Argument(
        None, help="An OpenHands conversation directory, a directory of them, or OpenHands' persistence dir (default "
                   "~/.openhands/conversations; OPENHANDS_CONVERSATIONS_DIR or OPENHANDS_PERSISTENCE_DIR when set)."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    rederive_: bool = typer.Option(False, "--rederive", help="Re-parse stored bundles instead of reading files."),
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import OpenHands CLI conversations (base_state.json + events/): prompts, replies, reasoning, tool calls with
    their results, shell exit codes, file_editor edits as diffs, model and token usage per response.

    Example: bashgym import openhands ~/.openhands/conversations
    """
    from bashgym.sources.registry import get_source

    run_import(get_source("openhands"), path, home, as_json, rederive_, redact, workers=workers)


@import_app.command("file")
def import_file_dataset(
    dataset: Path = typer.Argument(..., help="A .jsonl/.json/.parquet file or a saved HF datasets directory."),
    fmt: str = typer.Option("auto", "--format", help="auto, openai, sharegpt, adp or atif."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import a public trace dataset (OpenAI messages, ShareGPT, Agent Data Protocol, Harbor ATIF).

    --format auto looks at the first records and says which format it picked; a file of unknown shape is
    refused with the keys it found. Sessions get source "import" and ids from each record's id (or a hash
    of its content), so importing the same file again adds nothing.

    Example: bashgym import file ~/Downloads/claude-traces/train.parquet --format auto
    """
    from bashgym.errors import NotFoundError
    from bashgym.sources.datasets import DatasetSource, dataset_files, detect_format

    dataset = dataset.expanduser()
    if not dataset_files(dataset):
        raise NotFoundError(f"{dataset}: no dataset file there (expected .jsonl, .json, .parquet or a saved "
                            "HF datasets directory)")
    if fmt == "auto":
        fmt, why = detect_format(dataset)
        (err_console if as_json else console).print(f"format: {fmt} (auto-detected: {why})")
    source = DatasetSource.for_path(dataset, fmt)
    run_import(source, dataset, home, as_json, redact=redact, workers=workers)


@import_app.command("all")
def import_all(
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
    redact: bool = REDACT_OPTION,
    workers: int = WORKERS_OPTION,
) -> None:
    """Import every agent's sessions found on this machine (Claude Code, Codex, Gemini CLI, OpenCode,
    mini-swe-agent, Aider, Qwen Code, Cline, GitHub Copilot CLI, OpenHands).

    Each source's default location is used when it exists; one progress view, then a summary table.

    Example: bashgym import all
    """
    from bashgym.sources.registry import all_sources

    found = [(fmt, fmt.default_root().expanduser()) for fmt in all_sources()]
    found = [(fmt, root) for fmt, root in found if root.exists()]
    results: list[tuple[str, Path, ImportSummary]] = []
    from bashgym.factory.apply_redaction import capture_redactor

    with open_store(home) as store, progress(transient=as_json) as bar:
        redactor = capture_redactor(force=redact)
        plans = [(fmt, root, plan_import(fmt, root, bar)) for fmt, root in found]  # every bar shows at once
        # A source whose default root is a place to search (Aider: the home directory) counts only when found.
        for plan in [p for p in plans if not p[2][0] and getattr(p[0], "searches_default_root", False)]:
            plans.remove(plan)
            bar.remove_task(plan[2][2])
        for fmt, root, plan in plans:
            results.append((fmt.name, root, import_with_bar(store, fmt, plan, bar, redactor, workers)))
    if as_json:
        print_json({"sources": [{"source": n, "root": str(r), **s.to_dict()} for n, r, s in results]})
        return
    if not results:
        console.print("[yellow]no agent sessions found (looked for ~/.claude, ~/.codex, ~/.gemini, "
                      "~/.local/share/opencode, ~/.config/mini-swe-agent, .aider.chat.history.md under ~, "
                      "~/.qwen, ~/.cline, ~/.copilot, ~/.openhands)[/yellow]")
        return
    table = Table(title="import all")
    for col in ("source", "root", "files", "new/grown", "MB read", "sessions", "steps", "skipped lines", "failed"):
        table.add_column(col)
    for name, root, s in results:
        table.add_row(name, str(root), str(s.files), str(s.files_read), f"{s.bytes_read / 1e6:.1f}", str(s.sessions),
                      str(s.steps), str(s.skipped_lines), str(len(s.failed_files)))
    console.print(table)
    for _name, _root, s in results:
        for path, line, error in s.errors[:10]:
            err_console.print(f"[yellow]{path}:{line}: {error}[/yellow]")
        for path, error in s.failed_files:
            err_console.print(f"[red]{path}: {error}[/red]")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
