"""`bashgym redact`: the factory's redaction as a filter, to check what an export would remove."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson
import typer

from bashgym.errors import BashgymError, NotFoundError

CHUNK_CHARS = 4 * 1024 * 1024  # plain text is redacted in blocks cut at blank lines (PEM keys stay whole)


def register(app: typer.Typer) -> None:
    app.command("redact")(redact)


def redact(
    file: str = typer.Argument("-", help="File to redact, or - for stdin.", show_default=True),
    jsonl: bool = typer.Option(False, "--jsonl", help="Input is JSON Lines: redact --field of each line."),
    field: list[str] = typer.Option(
        ["text"], "--field", "-f", help="With --jsonl: the field to redact (repeatable; any JSON value)."
    ),
    report: bool = typer.Option(False, "--report", help="Print the full JSON report to stderr."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    user: list[str] = typer.Option([], "--user", "-u", help="A name or username to remove (repeatable)."),
    hostname: list[str] = typer.Option([], "--hostname", help="A hostname to remove (repeatable)."),
    no_detect_secrets: bool = typer.Option(
        False, "--no-detect-secrets", help="Skip detect-secrets' plugins (own rules only)."
    ),
    deny: list[str] = typer.Option([], "--deny", help="A word or name to remove too (repeatable)."),
    allow: list[str] = typer.Option([], "--allow", help="A value never to remove (repeatable)."),
    project: Path | None = typer.Option(
        None, "--project", help="Apply this project directory's redact.allow/deny lists (default: the current "
        "directory's)."),
) -> None:
    """Redact secrets and personal data from a file or stdin; print the result, a summary to stderr.

    Your own username and home directory are removed too, as the dataset export would, and the allow/deny
    lists of `bashgym config` (global, and the current directory's project, or --project's).

    Example:

        bashgym redact session.log > clean.log

        bashgym redact --user "Jane Doe" --hostname build-07.corp --deny "Acme Corp" notes.md

        cat export.jsonl | bashgym redact --jsonl --field text --report
    """
    from bashgym.factory.redact import Redactor
    from bashgym.settings import redaction_lists

    if field != ["text"] and not jsonl:
        raise BashgymError("--field needs --jsonl: plain text has no fields")
    allowed, denied, projects = redaction_lists()
    redactor = Redactor(
        user_names=[*user, _current_user()],
        home=str(Path.home()),
        hostnames=hostname,
        use_detect_secrets=not no_detect_secrets,
        allow=[*allowed, *allow],
        deny=[*denied, *deny],
        projects=projects,
    )
    redactor.use_project(str((project or Path.cwd()).expanduser().resolve()))
    name = "stdin" if file == "-" else file
    source = _open_input(file)
    sink: IO[str] = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        if jsonl:
            lines = _redact_jsonl(redactor, source, name, field, sink)
        else:
            lines = _redact_text(redactor, source, name, sink)
    finally:
        if output:
            sink.close()
        else:
            sink.flush()
        if source is not sys.stdin:
            source.close()
    summary = redactor.report()
    if report:
        sys.stderr.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stderr.write(_summary_line(summary, lines) + "\n")


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return ""


def _open_input(file: str) -> IO[str]:
    if file == "-":
        return sys.stdin
    path = Path(file)
    if not path.is_file():
        raise NotFoundError(f"no such file: {file} (give a path, or - to read stdin)")
    return path.open(encoding="utf-8", errors="replace", newline="")


def _chunks(source: IO[str]) -> Iterator[str]:
    """Blocks of about CHUNK_CHARS, cut after a blank line (or a line end) so multi-line keys stay whole."""
    buffer = ""
    while True:
        data = source.read(CHUNK_CHARS)
        if not data:
            break
        buffer += data
        cut = buffer.rfind("\n\n", 0, len(buffer) - 1)
        cut = cut + 2 if cut != -1 else buffer.rfind("\n") + 1
        if cut > 0:
            yield buffer[:cut]
            buffer = buffer[cut:]
    if buffer:
        yield buffer


def _redact_text(redactor, source: IO[str], name: str, sink: IO[str]) -> int:
    line = 1
    for chunk in _chunks(source):
        sink.write(redactor.redact_text(chunk, name, first_line=line))
        line += chunk.count("\n")
    return line - 1


def _redact_jsonl(redactor, source: IO[str], name: str, fields: list[str], sink: IO[str]) -> int:
    n = 0
    for n, raw in enumerate(source, start=1):
        if not raw.strip():
            sink.write(raw)
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BashgymError(f"{name}:{n}: not valid JSON ({exc}); --jsonl needs one JSON object per line") from None
        if not isinstance(record, dict):
            raise BashgymError(f"{name}:{n}: expected a JSON object with field {fields[0]!r}, got {type(record).__name__}")
        for key in fields:
            if key in record:
                record[key] = redactor.redact_obj(record[key], f"{name}:{n}.{key}")
        sink.write(orjson.dumps(record).decode() + "\n")
    return n


def _summary_line(summary: dict, lines: int) -> str:
    if not summary["total"]:
        return f"redact: nothing to remove in {lines} lines"
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(summary["counts"].items(), key=lambda kv: -kv[1]))
    return f"redact: removed {summary['total']} values in {lines} lines ({kinds})"
