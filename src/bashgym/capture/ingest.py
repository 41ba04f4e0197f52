"""Import one Claude Code transcript (and its subagents' files), or another agent's (`--source gemini`), into
the store, off the agent's path.

The hook starts this as a detached process on Stop / SubagentStop / SessionEnd:
`python -m bashgym.capture.ingest TRANSCRIPT`. It reads only what was appended since the last run, so
ingesting at every Stop stays cheap. Failures go to the hook error log that `bashgym hooks status` shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bashgym.sources.claude_code import ClaudeCodeSource
from bashgym.sources.importer import ImportSummary, import_paths
from bashgym.store import Store


def transcript_files(transcript: Path) -> list[Path]:
    """The transcript plus its subagent transcripts (`<session>/subagents/agent-*.jsonl`)."""
    files = [transcript] if transcript.exists() else []
    subagents = transcript.with_suffix("") / "subagents"
    if subagents.is_dir():
        files += sorted(subagents.glob("agent-*.jsonl"))
    return files


def ingest(transcript: Path, store: Store, source: str = "claude") -> ImportSummary:
    """Import the transcript of `source` (a `bashgym import` name; Claude Code's brings its subagents' files);
    with capture.redact on, only its redacted text is stored."""
    from bashgym.factory.apply_redaction import capture_redactor
    from bashgym.sources.registry import get_source

    if source == "claude":
        return import_paths(store, ClaudeCodeSource(), transcript_files(transcript), redactor=capture_redactor())
    files = [transcript] if transcript.exists() else []
    return import_paths(store, get_source(source), files, redactor=capture_redactor())


def git_state(cwd: str) -> tuple[str | None, str | None, bool | None]:
    """(HEAD commit, branch, dirty) of the repository holding cwd; Nones outside a repository."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, git("rev-parse", "--abbrev-ref", "HEAD"), None if status is None else bool(status)


def record_context(session_id: str, cwd: str, store: Store) -> None:
    from bashgym.factory.apply_redaction import capture_redactor

    commit, branch, dirty = git_state(cwd)
    redactor = capture_redactor()
    if redactor is not None:  # the directory names the user (/home/alice/...); the store keeps it redacted
        cwd = redactor.redact_text(cwd)
        branch = redactor.redact_text(branch) if branch else branch
    with store.transaction():
        store.put_session_context(session_id, cwd=cwd, git_commit=commit, git_branch=branch, git_dirty=dirty)


def main(argv: list[str]) -> int:
    from bashgym.capture.events import log_error

    if len(argv) == 3 and argv[0] == "--context":
        try:
            with Store.open() as store:
                record_context(argv[1], argv[2], store)
        except Exception as exc:  # noqa: BLE001 - detached: the log is the only place anyone will look
            log_error(f"context: {argv[1]}: {type(exc).__name__}: {exc}")
            return 1
        return 0
    source = "claude"
    if len(argv) >= 3 and argv[0] == "--source":
        source, argv = argv[1], argv[2:]
    if len(argv) == 2 and argv[0] == "--codex-thread":  # Codex's notify names the thread, not the file
        from bashgym.capture.codex_notify import rollout_of

        rollout = rollout_of(argv[1])
        if rollout is None:
            log_error(f"ingest: no Codex rollout for thread {argv[1]} under {Path(os.environ.get('CODEX_HOME') or '~/.codex')}/sessions")
            return 1
        argv = [str(rollout)]
    if len(argv) != 1:
        print("usage: python -m bashgym.capture.ingest [--source NAME] TRANSCRIPT | --context SESSION_ID CWD",
              file=sys.stderr)
        return 2
    if not transcript_files(Path(argv[0])):  # the event named a file that is not there: say so somewhere
        log_error(f"ingest: {argv[0]}: transcript not found, nothing imported (moved or deleted before the "
                  "Stop event was handled? `bashgym import` reads every transcript still on disk)")
        return 1
    try:
        with Store.open() as store:
            summary = ingest(Path(argv[0]), store, source)
        for path, line, error in summary.errors[:5]:
            log_error(f"ingest: {path}:{line}: {error}")
        for path, error in summary.failed_files:
            log_error(f"ingest: {path}: {error}")
    except Exception as exc:  # noqa: BLE001 - detached: the log is the only place anyone will look
        log_error(f"ingest: {argv[0]}: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
