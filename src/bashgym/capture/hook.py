"""The capture hook (Claude Code, Gemini CLI, Qwen Code, GitHub Copilot CLI): read one JSON event on stdin, append it to the event log in
one write, exit 0.

Run as a script by absolute path with `-S` (no site import), so it costs about as much as a bare Python
start: `/abs/python -S /abs/.../bashgym/capture/hook.py [--home DIR] [--agent gemini]`. Standard library only, and only its
cheapest parts: no json, no re. It must never slow or break the agent, so every error is swallowed after
being written to `events/errors.log`, and the exit code is always 0. It never blocks either: stdin is read
for at most STDIN_BUDGET_S (an agent that holds it open gets what arrived by then), the log files are opened
non-blocking and refused unless they are regular files (a FIFO in their place is an error, not a hang), and
a timer ends the process, exit 0, DEADLINE_S after it started whatever it is doing.

Event log: `$BASHGYM_HOME/events/events.jsonl`, one event per line, each line the event's JSON object with
a `"_bashgym_ts"` member added; with `capture.redact` on (config.json), only the event's name and session id
(the import that follows stores the transcript redacted). Appends use O_APPEND and a single write(), so concurrent hooks never
interleave or lose a line. Payloads over MAX_EVENT_BYTES are replaced by a small stub naming their size
(the transcript keeps the full content).

With `--agent NAME` (not Claude Code) each line also gets `"_bashgym_agent":"NAME"`, so `hooks status` counts
events per agent. As Codex's `notify` program (`--agent codex`) the event is the JSON object Codex appends as
the last argument ({type: "agent-turn-complete", thread-id, ...}), logged with `hook_event_name` = its type and
`session_id` = its thread id; its rollout is then imported (`ingest --source codex --codex-thread ID`).

On Stop / SubagentStop / SessionEnd (Gemini CLI: AfterAgent / SessionEnd, whose `transcript_path` is its chat
file; Qwen Code: Stop / SessionEnd, its chat file; Copilot CLI: Stop, its events.jsonl) the session's
transcript is imported by a detached process (`python -m bashgym.capture.ingest [--source gemini] PATH`), so
the agent never waits for it; on SessionStart a detached process records the git commit the session starts
from (transcripts name the branch, not the commit).
"""

import _signal  # the C module: `signal` would import enum, 10+ ms
import os
import select
import stat
import sys
import time

MAX_EVENT_BYTES = 8 * 1024 * 1024
INGEST_EVENTS = (b"Stop", b"SubagentStop", b"SessionEnd")
# Per agent (`--agent`): the events after which its transcript is imported. Claude Code is the default.
# Copilot's SessionEnd names no transcript; its Stop (`agentStop`) does, after every turn.
AGENT_INGEST_EVENTS = {"gemini": (b"AfterAgent", b"SessionEnd"), "qwen": (b"Stop", b"SessionEnd"),
                       "copilot": (b"Stop",)}
STDIN_BUDGET_S = 0.6  # the longest the hook waits for stdin to reach EOF
DEADLINE_S = 0.9  # the hook is gone by then, exit 0, whatever it was doing
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC


def _option(argv, name):
    """The value after `name` in argv, or None."""
    for i in range(1, len(argv) - 1):
        if argv[i] == name:
            return argv[i + 1]
    return None


def _home(argv):
    given = _option(argv, "--home")
    if given:
        return given
    env = os.environ.get("BASHGYM_HOME")
    return env if env else os.path.join(os.path.expanduser("~"), ".bashgym")


def _append(path, data):
    # O_NONBLOCK: opening a FIFO with no reader fails at once instead of waiting for one.
    fd = os.open(path, _APPEND_FLAGS, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file; not writing to it")
        view = memoryview(data)
        written = os.write(fd, view)
        while written < len(view):  # a regular file takes it all at once; be safe anyway
            written += os.write(fd, view[written:])
    finally:
        os.close(fd)


def _log_error(events, message):
    try:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _append(os.path.join(events, "errors.log"), f"{stamp}\t{message}\n".encode("utf-8", "replace"))
    except Exception:
        pass


def _redacting(home):
    """True when `bashgym config set capture.redact true` is in effect: its config.json holds
    `"capture.redact": true` (found without a JSON parser, spaces aside)."""
    try:
        with open(os.path.join(home, "config.json"), "rb") as fh:
            data = fh.read(1 << 16)
    except OSError:
        return False
    return b'"capture.redact":true' in data.replace(b" ", b"").replace(b"\t", b"")


def _string_field(payload, name):
    """The value of a top-level string member, found without a JSON parser (first occurrence)."""
    key = b'"' + name + b'"'
    at = payload.find(key)
    if at < 0:
        return None
    at = payload.find(b'"', payload.find(b":", at + len(key)) + 1)
    if at < 0:
        return None
    end = at + 1
    while True:
        end = payload.find(b'"', end)
        if end < 0:
            return None
        backslashes = 0
        while payload[end - 1 - backslashes] == 0x5C:
            backslashes += 1
        if backslashes % 2 == 0:
            return payload[at + 1 : end]
        end += 1


def _spawn_ingest(home, *args):
    import subprocess

    devnull = subprocess.DEVNULL
    env = dict(os.environ)
    env["BASHGYM_HOME"] = home
    subprocess.Popen(
        [sys.executable, "-m", "bashgym.capture.ingest", *args],
        stdin=devnull,
        stdout=devnull,
        stderr=devnull,
        start_new_session=True,
        close_fds=True,
        env=env,
    )


def _read_stdin(budget_s):
    """stdin up to EOF, or what arrived within `budget_s` seconds; (bytes, reached EOF)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):  # an in-process caller swapped sys.stdin for a buffer
        return sys.stdin.buffer.read(), True
    deadline = time.monotonic() + budget_s
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return b"".join(chunks), False
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _give_up(_signum, _frame):
    os._exit(0)


def main(argv):
    home = _home(argv)
    agent = _option(argv, "--agent") or "claude"
    events = os.path.join(home, "events")
    try:
        if agent == "codex" and argv[-1].startswith("{"):  # notify: the event is the last argument
            payload, eof = argv[-1].encode("utf-8", "surrogateescape"), True
        else:
            payload, eof = _read_stdin(STDIN_BUDGET_S)
        try:
            os.makedirs(events, exist_ok=True)
        except OSError:
            pass
        body = payload.strip()
        redacting = _redacting(home)
        if not (body.startswith(b"{") and body.endswith(b"}")):
            held = "" if eof else f"; stdin was still open after {STDIN_BUDGET_S:g}s"
            starts = "" if redacting else f", starts {payload[:40]!r}"  # capture.redact: not even 40 bytes
            _log_error(events, f"stdin was not a JSON object ({len(payload)} bytes{starts}){held}")
            return
        name = _string_field(body, b"hook_event_name")
        if name is None and agent == "codex":
            name, thread = _string_field(body, b"type"), _string_field(body, b"thread-id") or b""
            if name is not None:  # in Claude's terms, so the log reads the same for every agent
                body = b'{"hook_event_name":"%s","session_id":"%s",' % (name, thread) + body[1:]
        if name is None:
            _log_error(events, f"event without hook_event_name ({len(payload)} bytes)")
            return
        stamp = b'{"_bashgym_ts":%.6f,' % time.time()
        if agent != "claude" and agent.isidentifier():
            stamp += b'"_bashgym_agent":"%s",' % agent.encode()
        if redacting:  # capture.redact: the payload (commands, outputs, paths) never touches disk
            sid = _string_field(body, b"session_id") or b""
            line = stamp + b'"hook_event_name":"%s","session_id":"%s","_bashgym_redacted":true}\n' % (name, sid)
        elif len(body) > MAX_EVENT_BYTES:
            sid = _string_field(body, b"session_id") or b""
            _log_error(events, f"{name.decode('utf-8', 'replace')} event of {len(body)} bytes stored as a stub")
            line = stamp + b'"hook_event_name":"%s","session_id":"%s","_bashgym_truncated_bytes":%d}\n' % (
                name, sid, len(body))
        else:
            # Raw newlines can only sit between JSON tokens (inside strings they are escaped), so turning
            # them into spaces keeps the object valid and one line long.
            line = stamp + body[1:].replace(b"\r", b" ").replace(b"\n", b" ") + b"\n"
        _append(os.path.join(events, "events.jsonl"), line)
        if name == b"SessionStart":
            sid, cwd = _string_field(body, b"session_id"), _string_field(body, b"cwd")
            if sid and cwd:  # note the git commit the session starts from, off the agent's path
                _spawn_ingest(home, "--context", sid.decode("utf-8", "replace"),
                              cwd.decode("utf-8", "surrogateescape"))
        if agent == "codex" and name == b"agent-turn-complete":
            thread = _string_field(body, b"thread-id")
            if thread:
                _spawn_ingest(home, "--source", "codex", "--codex-thread", thread.decode("utf-8", "replace"))
        elif name in AGENT_INGEST_EVENTS.get(agent, INGEST_EVENTS):
            key = b"agent_transcript_path" if name == b"SubagentStop" else b"transcript_path"
            transcript = _string_field(body, key) or _string_field(body, b"transcript_path")
            source = () if agent == "claude" else ("--source", agent)
            if transcript:
                _spawn_ingest(home, *source, transcript.decode("utf-8", "surrogateescape"))
            else:
                _log_error(events, f"{name.decode('utf-8', 'replace')} event without a transcript path: "
                                   "nothing imported")
    except BaseException as exc:  # noqa: BLE001 - the agent must never see a hook failure
        _log_error(events, f"{type(exc).__name__}: {exc}")


def run():
    """Entry point (`bashgym-hook`, used by the plugin): run the hook, exit 0 whatever happened, in time."""
    try:
        _signal.signal(_signal.SIGALRM, _give_up)
        _signal.setitimer(_signal.ITIMER_REAL, DEADLINE_S)
    except Exception:  # noqa: BLE001 - no timer is no reason to fail
        pass
    main(sys.argv)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    run()
