"""Aider chat histories (`.aider.chat.history.md`, one per repository) → canonical Sessions.

Facts the parser relies on (aider-chat 0.86.2, `aider/io.py` `user_input` / `ai_output` / `tool_output` /
`append_chat_history`, `aider/coders/base_coder.py`; measured with the real `aider` in
tests/test_aider_cli_e2e.py; docs/formats.md, Aider section):
- Aider appends to `<repo root>/.aider.chat.history.md` as it goes; every start writes a header line
  `# aider chat started at YYYY-MM-DD HH:MM:SS` (local time, no zone): one session per header.
- `#### text  ` lines are what the user typed (a multi-line prompt is one `#### ` line per line); a prompt
  starting with `/` is an aider command (`/run cmd`, `/add f`, ...).
- `> text  ` lines are aider's own notes (tool_output / tool_error / confirmations): `Aider vX`, `Model: M with
  F edit format`, `Tokens: 2.1k sent, 120 received.`, `Applied edit to F`, `Commit abc1234 msg`, `Running CMD`,
  `Run shell command? ... y`. A note whose text has newlines continues, unquoted, up to the line that ends in
  two spaces (every note ends with "  \\n").
- Everything else is the model's reply, verbatim: edits are SEARCH/REPLACE blocks inside it (the `diff`
  edit formats), shell commands are ```bash blocks that aider runs after the reply when the user agrees.
- Not recorded: the output and exit status of shell commands (they go to the terminal and, when the user
  agrees, into the next request only), the system prompt, file contents, per-call timestamps.
  `.aider.input.history` beside it has a timestamp per prompt; it is used for the prompts' times.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.sources.base import Line, ParsedFile

HISTORY_NAME = ".aider.chat.history.md"
INPUT_HISTORY_NAME = ".aider.input.history"
STARTED = "# aider chat started at "
# Directories never searched for histories under the default root (the home directory).
PRUNE = frozenset({"node_modules", ".git", ".venv", "venv", "__pycache__", ".cache", ".tox", "site-packages"})
MAX_DEPTH = 6

SEARCH_REPLACE = re.compile(r"^<{5,9} SEARCH[^\n]*\n(.*?)^={5,9}\s*\n(.*?)^>{5,9} REPLACE", re.M | re.S)
TOKENS = re.compile(r"^Tokens: ([\d.,]+)([kM]?) sent(?:, ([\d.,]+)([kM]?) cache write)?"
                    r"(?:, ([\d.,]+)([kM]?) cache hit)?, ([\d.,]+)([kM]?) received")
MODEL = re.compile(r"^(?:Main model|Model): (\S+)")


class AiderSource:
    name = "aider"
    source = "aider"
    line_based = False  # re-read whole: a session's reply and its notes may straddle two appends
    searches_default_root = True  # the home directory is searched, not aider's own directory

    def default_root(self) -> Path:
        return Path.home()

    def discover(self, root: Path) -> list[Path]:
        return discover_histories(root)

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        return parse_history(path, b"\n".join(bytes(raw) for _, raw in lines).decode("utf-8", "replace"),
                             input_history(Path(path).with_name(INPUT_HISTORY_NAME)))


def discover_histories(root: Path) -> list[Path]:
    """`.aider.chat.history.md` files under root (root itself when it is a file), skipping hidden, dependency
    and cache directories and going at most MAX_DEPTH levels down: aider writes one per repository, anywhere."""
    if root.is_file():
        return [root]
    found = []
    base = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - base
        dirnames[:] = sorted(d for d in dirnames if d not in PRUNE and not d.startswith(".") and depth < MAX_DEPTH)
        if HISTORY_NAME in filenames:
            found.append(Path(dirpath) / HISTORY_NAME)
    return sorted(found)


def _local_iso(text: str) -> str | None:
    """Aider's local wall-clock time (no zone) as ISO-8601 UTC, read in this machine's zone."""
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            stamp = datetime.strptime(text.strip(), fmt).astimezone(UTC)
        except ValueError:
            continue
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return None


def input_history(path: Path) -> list[tuple[str, str]]:
    """(ISO time, text) of every entry in an `.aider.input.history` (`# <time>` then `+line`s); [] without one."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    entries: list[tuple[str, str]] = []
    stamp, body = None, []
    for line in text.splitlines():
        if line.startswith("# "):
            if stamp is not None:
                entries.append((stamp, "\n".join(body)))
            stamp, body = _local_iso(line[2:]) or "", []
        elif line.startswith("+") and stamp is not None:
            body.append(line[1:])
    if stamp is not None:
        entries.append((stamp, "\n".join(body)))
    return entries


def _count(number: str, unit: str) -> int:
    value = float(number.replace(",", ""))
    return int(round(value * {"k": 1_000, "M": 1_000_000}.get(unit, 1)))


def _blocks(text: str) -> list[tuple[str, str]]:
    """The history split into ("header" | "user" | "note" | "reply", text) blocks, in order."""
    blocks: list[tuple[str, str]] = []
    lines = text.split("\n")
    i = 0
    reply: list[str] = []

    def flush_reply() -> None:
        body = "\n".join(reply).strip("\n")
        if body.strip():
            blocks.append(("reply", body))
        reply.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith(STARTED):
            flush_reply()
            blocks.append(("header", line[len(STARTED):].strip()))
        elif line.startswith("#### "):
            flush_reply()
            prompt = [line[5:].rstrip()]
            while i + 1 < len(lines) and lines[i + 1].startswith("#### "):
                i += 1
                prompt.append(lines[i][5:].rstrip())
            text_ = "\n".join(prompt)
            blocks.append(("user", "" if text_ == "<blank>" else text_))
        elif line.startswith("> "):
            flush_reply()
            note = [line[2:]]
            while not note[-1].endswith("  ") and i + 1 < len(lines) and not lines[i + 1].startswith(("> ", "#### ", STARTED)):
                i += 1
                note.append(lines[i])
            blocks.append(("note", "\n".join(note).rstrip()))
        else:
            reply.append(line)
        i += 1
    flush_reply()
    return blocks


def _file_before(reply: str, at: int) -> str | None:
    """The file name a SEARCH/REPLACE block edits: the last non-fence line before it (aider's own rule)."""
    for line in reversed(reply[:at].rstrip("\n").split("\n")):
        if not line.strip() or line.strip().startswith("```"):
            continue
        name = line.strip().strip("`*:").strip()
        return name
    return None


def edits_in(reply: str) -> list[dict[str, str]]:
    """The SEARCH/REPLACE edits of a reply, in order, as {file_path, old_string, new_string, diff}.

    >>> [e["file_path"] for e in edits_in("a.txt\\n```\\n<<<<<<< SEARCH\\nx\\n=======\\ny\\n>>>>>>> REPLACE\\n```")]
    ['a.txt']
    """
    out = []
    for m in SEARCH_REPLACE.finditer(reply):
        path = _file_before(reply, m.start()) or ""
        old, new = m.group(1), m.group(2)
        diff = "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                            f"a/{path}", f"b/{path}"))
        out.append({"file_path": path, "old_string": old.removesuffix("\n"), "new_string": new.removesuffix("\n"),
                    "diff": diff})
    return out


def parse_history(path: str, text: str, inputs: list[tuple[str, str]] | None = None) -> ParsedFile:
    """Every session of one chat history; notes aider wrote become session/turn details, replies become
    assistant messages followed by the edits and shell commands aider carried out from them."""
    result = ParsedFile()
    blocks = _blocks(text)
    if blocks and blocks[0][0] != "header" and any(kind in ("user", "reply") for kind, _ in blocks):
        blocks.insert(0, ("header", ""))  # a history whose start was cut off: still one session
    starts = [i for i, (kind, _) in enumerate(blocks) if kind == "header"]
    pending = list(inputs or [])
    cwd = str(Path(path).resolve().parent)
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(blocks)
        session = _session(path, n, blocks[start][1], blocks[start + 1:end], pending)
        session.cwd = session.project = cwd
        if session.turns:
            result.sessions.append(session)
    return result


def _session(path: str, n: int, started: str, blocks: list[tuple[str, str]],
             inputs: list[tuple[str, str]]) -> Session:
    digest = hashlib.sha1(f"{Path(path).resolve()}\n{n}\n{started}".encode()).hexdigest()[:16]
    session = Session(id=f"aider-{digest}", source="aider", source_path=path, started_at=_local_iso(started))
    turn: Turn | None = None
    reply_no = 0
    model: str | None = None
    calls: list[Step] = []  # this reply's edits and shell commands, not yet seen carried out

    def open_turn(prompt: str) -> Turn:
        nonlocal turn
        ts = _entered(inputs, prompt, session.started_at)
        turn = Turn(index=len(session.turns), prompt=prompt, started_at=ts or session.started_at,
                    ended_at=ts or session.started_at)
        session.turns.append(turn)
        turn.steps.append(Step(kind="message", role="user", text=prompt, timestamp=turn.started_at))
        return turn

    for kind, text in blocks:
        if kind == "user":
            calls = []
            open_turn(text)
            if text.startswith(("/run ", "!")) and turn is not None:  # the user ran a command through aider
                command = text[5:] if text.startswith("/run ") else text[1:]
                turn.steps.append(Step(kind="tool_call", tool_name="bash", input={"command": command.strip()},
                                       timestamp=turn.started_at,
                                       meta={"issued_by": "user", "output_recorded": False}))
        elif kind == "reply":
            t = turn or open_turn("")
            reply_no += 1
            mid = {MESSAGE_ID: f"{session.id}:{reply_no}"}
            t.steps.append(Step(kind="message", role="assistant", text=text, model=model, timestamp=t.ended_at,
                                meta=dict(mid)))
            calls = []
            for edit in edits_in(text):
                step = Step(kind="tool_call", tool_name="Edit", model=model, timestamp=t.ended_at,
                            input={k: edit[k] for k in ("file_path", "old_string", "new_string")},
                            meta={**mid, "diff": edit["diff"], "from_reply": True})
                t.steps.append(step)
                calls.append(step)
        else:  # an aider note
            _note(session, turn, text, calls, inputs)
            m = MODEL.match(text)
            if m:
                model = m.group(1)
                if model not in session.models:
                    session.models.append(model)
    for t in session.turns:
        for s in t.steps:
            if s.tool_name == "Edit" and s.output is None:  # aider never said it applied it
                s.is_error = True
                s.meta["not_applied"] = True
    stamps = [t.ended_at for t in session.turns if t.ended_at]
    session.ended_at = max(stamps) if stamps else session.started_at
    return session


def _entered(inputs: list[tuple[str, str]], text: str, since: str | None) -> str | None:
    """The time of the first unused input-history entry with this text (not before `since`), used up."""
    for j, (stamp, entered) in enumerate(inputs):
        if entered == text and (since is None or stamp >= since):
            del inputs[j]
            return stamp
    return None


def _note(session: Session, turn: Turn | None, text: str, calls: list[Step], inputs: list[tuple[str, str]]) -> None:
    """Fold one of aider's notes into the session: version, usage, applied edits, commands, commits."""
    if text.startswith("Aider v") and session.agent_version is None:
        session.agent_version = text[len("Aider v"):].split()[0]
        return
    if text.startswith("Git repo: "):
        session.meta["git_repo"] = text[len("Git repo: "):]
        return
    if turn is None:
        return
    m = TOKENS.match(text)
    if m:
        cache_write = _count(m.group(3), m.group(4)) if m.group(3) else 0
        cache_hit = _count(m.group(5), m.group(6)) if m.group(5) else 0
        usage = Usage(input_tokens=max(0, _count(m.group(1), m.group(2)) - cache_write - cache_hit),
                      output_tokens=_count(m.group(7), m.group(8)), cache_read_tokens=cache_hit,
                      cache_creation_tokens=cache_write)
        turn.usage.add(usage)
        session.usage.add(usage)
        return
    if text.startswith("Applied edit to "):
        path = text[len("Applied edit to "):].strip()
        for step in calls:
            if step.tool_name == "Edit" and step.input.get("file_path") == path and step.output is None:
                step.output = text
        return
    if text.startswith("Running "):
        command = text[len("Running "):].strip()
        last = turn.steps[-1] if turn.steps else None
        if last is not None and last.meta.get("issued_by") == "user" and last.input == {"command": command}:
            return  # the user's own /run, already recorded
        mid = next((s.meta[MESSAGE_ID] for s in reversed(turn.steps) if MESSAGE_ID in s.meta), None)
        ts = _entered(inputs, f"/run {command}", turn.started_at) or turn.ended_at  # aider notes it as a /run
        turn.ended_at = max(filter(None, (turn.ended_at, ts)), default=None)
        turn.steps.append(Step(kind="tool_call", tool_name="bash", input={"command": command}, timestamp=ts,
                               meta={**({MESSAGE_ID: mid} if mid else {}), "from_reply": True,
                                     "output_recorded": False}))
        return
    if text.startswith("Commit ") and len(text.split()) >= 2:
        sha, _, message = text[len("Commit "):].partition(" ")
        turn.meta.setdefault("commits", []).append({"sha": sha, "message": message})
        return
    if text.startswith(("The LLM did not conform", "# ")) and "SEARCH/REPLACE" in text:
        turn.meta.setdefault("edit_errors", []).append(text)
