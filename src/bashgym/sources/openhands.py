"""OpenHands conversations (`~/.openhands/conversations/<id>/`) → canonical Sessions.

Facts the parser relies on (PyPI `openhands` 1.16.0, the OpenHands CLI, on `openhands-sdk` 1.21.0: its
`LocalConversation` persistence, `openhands/sdk/event/`, `openhands/tools/terminal|file_editor`; recorded by the
real CLI in tests/test_openhands_cli_e2e.py; docs/formats.md):
- One directory per conversation, named by its id (uuid hex), under `$OPENHANDS_CONVERSATIONS_DIR`, else
  `$OPENHANDS_PERSISTENCE_DIR/conversations`, else `~/.openhands/conversations`. It holds `base_state.json`
  (rewritten on every state change: {id, agent {llm {model, ...}, tools, ...}, workspace {working_dir},
  execution_status, stats {usage_to_metrics {<usage id>: {model_name, token_usages [{model, prompt_tokens,
  completion_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, response_id}]}}}, ...}) and
  `events/event-NNNNN-<event id>.json`, one JSON event per file, written once, in order.
- Events: {id, timestamp (local time, no zone), source (user | agent | environment), kind, ...}.
  `SystemPromptEvent` {system_prompt {text}, tools}; `MessageEvent` {llm_message {role, content [{type: text,
  text}], reasoning_content, thinking_blocks}, llm_response_id}; `ActionEvent` {thought [{text}],
  reasoning_content, thinking_blocks, action {kind, ...} (null when the call could not be parsed), tool_name,
  tool_call_id, tool_call {arguments}, llm_response_id (shared by the calls of one response), summary,
  security_risk}; `ObservationEvent` {tool_name, tool_call_id, action_id, observation {kind, content [{text}],
  is_error, ...}}: `TerminalObservation` adds command, exit_code (-1: still running or timed out), timeout;
  `FileEditorObservation` adds command, path, prev_exist, old_content, new_content; `AgentErrorEvent`
  {tool_call_id, error}; `UserRejectObservation` {tool_call_id, rejection_reason}; `Condensation` {summary,
  forgotten_event_ids}; `ConversationErrorEvent` {code, detail}; `PauseEvent`.
- No agent version is written anywhere in a conversation's files.

A conversation is spread over many files, so discovery gathers each one's files into a bundle (JSONL: the
state, then the events in order, each tagged with the file it came from) under $BASHGYM_HOME/cache/openhands/,
as for OpenCode (`base.write_bundle`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bashgym.paths import home_dir
from bashgym.schema import MESSAGE_ID, Session, Step, Usage
from bashgym.sources.base import (
    Line,
    ParsedFile,
    TurnBuilder,
    bundle_bytes,
    json_objects,
    read_json_entry,
    write_bundle,
)

STATE_FILE = "base_state.json"
# Tool calls that are the agent's answer to the user: the run ends with them, their message is the reply.
FINAL_ANSWER_TOOLS = frozenset({"finish"})


def openhands_conversations_dir() -> Path:
    """Where the OpenHands CLI keeps conversations (its `locations.get_conversations_dir`)."""
    if os.environ.get("OPENHANDS_CONVERSATIONS_DIR"):
        return Path(os.environ["OPENHANDS_CONVERSATIONS_DIR"])
    return Path(os.environ.get("OPENHANDS_PERSISTENCE_DIR") or Path.home() / ".openhands") / "conversations"


class OpenHandsSource:
    name = "openhands"
    source = "openhands"
    line_based = False  # a bundle is rewritten whole when the conversation changed

    def default_root(self) -> Path:
        return openhands_conversations_dir()

    def discover(self, root: Path) -> list[Path]:
        return write_bundles(root, home_dir() / "cache" / "openhands")

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        data = b"\n".join(bytes(raw) for _, raw in lines)  # a whole-file format: one chunk, split here
        return parse_bundle(path, list(enumerate(data.split(b"\n"), 1)))


def _is_conversation(directory: Path) -> bool:
    return (directory / STATE_FILE).is_file() or (directory / "events").is_dir()


def conversation_dirs(root: Path) -> list[Path]:
    """The conversation directories under root: root itself when it is one (or a file in one), the
    directories of a conversations dir, or those of a persistence dir's `conversations/`."""
    root = root.expanduser()
    if root.is_file():
        folder = root.parent.parent if root.parent.name == "events" else root.parent
        return [folder] if _is_conversation(folder) else []
    if _is_conversation(root):
        return [root]
    for parent in (root, root / "conversations"):
        if parent.is_dir():
            found = sorted(d for d in parent.iterdir() if d.is_dir() and _is_conversation(d))
            if found:
                return found
    return []


def bundle_conversation(folder: Path) -> bytes:
    """One conversation's files as bundle lines: the state (when written), then each event file in order."""
    entries = [dict(read_json_entry(folder / STATE_FILE), kind="state")] if (folder / STATE_FILE).is_file() else []
    events = folder / "events"
    if events.is_dir():
        entries += [dict(read_json_entry(f), kind="event") for f in sorted(events.glob("event-*.json"))]
    return bundle_bytes(entries or [{"kind": "state", "file": str(folder), "error": "no base_state.json or events"}])


def write_bundles(root: Path, cache: Path) -> list[Path]:
    """Bundle every conversation under root; returns the bundle paths (named by conversation id)."""
    folders = conversation_dirs(root)
    if folders:
        cache.mkdir(parents=True, exist_ok=True)
    return [write_bundle(cache, f.name, bundle_conversation(f)) for f in folders]


def iso_local(value: Any) -> str | None:
    """ISO-8601 UTC text from OpenHands' local, zone-less timestamps (read in this machine's zone); None when
    it is not a time.

    >>> iso_local("2026-12-05T12:55:14.048107+00:00")
    '2026-12-05T12:55:14.048Z'
    """
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _texts(content: Any) -> str:
    """The text parts of an OpenHands content list (or a plain string), joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _thinking(event: dict[str, Any]) -> str:
    """Reasoning the model returned with a response: `reasoning_content`, else its thinking blocks."""
    if isinstance(event.get("reasoning_content"), str) and event["reasoning_content"]:
        return event["reasoning_content"]
    blocks = event.get("thinking_blocks") if isinstance(event.get("thinking_blocks"), list) else []
    return "\n".join(b["thinking"] for b in blocks if isinstance(b, dict) and isinstance(b.get("thinking"), str))


def _usage(entry: dict[str, Any]) -> Usage:
    """bashgym's usage from one of OpenHands' per-call token usages (litellm's prompt tokens hold the cache
    reads)."""
    cached = int(entry.get("cache_read_tokens") or 0)
    return Usage(input_tokens=max(0, int(entry.get("prompt_tokens") or 0) - cached),
                 output_tokens=int(entry.get("completion_tokens") or 0), cache_read_tokens=cached,
                 cache_creation_tokens=int(entry.get("cache_write_tokens") or 0))


def file_diff(path: str, old: str | None, new: str | None) -> str:
    """A unified diff of one file's contents before and after an edit ('' when nothing changed).

    >>> print(file_diff("/w/a.txt", "x\\n", "y\\n"), end="")
    --- a/w/a.txt
    +++ b/w/a.txt
    @@ -1 +1 @@
    -x
    +y
    """
    return "".join(difflib.unified_diff((old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
                                        f"a{'' if path.startswith('/') else '/'}{path}",
                                        f"b{'' if path.startswith('/') else '/'}{path}"))


class _Builder(TurnBuilder):
    def __init__(self, session: Session, model: str | None, usage_by_response: dict[str, Usage]) -> None:
        super().__init__(session)
        self.model = model
        self.usage_by_response = usage_by_response
        self.calls: dict[str, Step] = {}
        self.counted: set[str] = set()  # response ids whose usage a turn already holds

    def _count(self, response_id: Any, ts: str | None) -> None:
        if isinstance(response_id, str) and response_id in self.usage_by_response and response_id not in self.counted:
            self.counted.add(response_id)
            self.ensure_turn(ts).usage.add(self.usage_by_response[response_id])

    def message(self, event: dict[str, Any], ts: str | None) -> None:
        llm = event.get("llm_message") if isinstance(event.get("llm_message"), dict) else {}
        text = _texts(llm.get("content"))
        if event.get("source") == "user":
            turn = self.new_turn(text, ts)
            turn.meta["event_id"] = event.get("id")
            for key in ("activated_skills", "extended_content"):
                if event.get(key):
                    turn.meta[key] = event[key]
            images = [p for p in llm.get("content") or [] if isinstance(p, dict) and p.get("type") == "image"]
            step = Step(kind="message", role="user", text=text, timestamp=ts)
            if images:
                step.meta["images"] = len(images)
            self.add(step)
            return
        mid = event.get("llm_response_id")
        self.add(Step(kind="message", role="assistant", text=text, thinking=_thinking(llm) or _thinking(event),
                      timestamp=ts, model=self.model, meta={MESSAGE_ID: mid} if mid else {}))
        self._count(mid, ts)

    def action(self, event: dict[str, Any], ts: str | None) -> None:
        mid = event.get("llm_response_id")
        meta: dict[str, Any] = {MESSAGE_ID: mid} if mid else {}
        thought, thinking = _texts(event.get("thought")), _thinking(event)
        if thought or thinking:  # the text the model sent with its call(s): on the response's first call only
            self.add(Step(kind="message", role="assistant", text=thought, thinking=thinking, timestamp=ts,
                          model=self.model, meta=dict(meta)))
        call = event.get("tool_call") if isinstance(event.get("tool_call"), dict) else {}
        try:
            args = orjson.loads(call["arguments"]) if isinstance(call.get("arguments"), str) else None
        except orjson.JSONDecodeError:
            args = call["arguments"]
        action = event.get("action")
        if args is None and isinstance(action, dict):
            args = {k: v for k, v in action.items() if k != "kind"}
        step = Step(kind="tool_call", tool_name=event.get("tool_name"), call_id=event.get("tool_call_id"),
                    input=args, timestamp=ts, model=self.model, meta={**meta, "no_result": True})
        if isinstance(action, dict) and action.get("kind"):
            step.meta["action"] = action["kind"]
        elif action is None:
            step.meta["not_parsed"] = True  # OpenHands could not turn the call into an action
        for key in ("summary", "security_risk"):
            if event.get(key):
                step.meta[key] = event[key]
        if step.tool_name in FINAL_ANSWER_TOOLS:
            step.meta["final_answer"] = True
        self.add(step)
        if step.call_id:
            self.calls[step.call_id] = step
        self._count(mid, ts)

    def _call_for(self, event: dict[str, Any], ts: str | None) -> Step:
        step = self.calls.get(event.get("tool_call_id") or "")
        if step is None:  # a result whose call is not in the files (a condensed or hand-cut conversation)
            step = Step(kind="tool_call", tool_name=event.get("tool_name"), call_id=event.get("tool_call_id"),
                        timestamp=ts, meta={"orphan_result": True})
            self.add(step)
        step.meta.pop("no_result", None)
        if ts and step.timestamp:
            start, end = datetime.fromisoformat(step.timestamp[:-1]), datetime.fromisoformat(ts[:-1])
            step.duration_ms = max(0, int((end - start).total_seconds() * 1000))
        return step

    def observation(self, event: dict[str, Any], ts: str | None) -> None:
        step = self._call_for(event, ts)
        obs = event.get("observation") if isinstance(event.get("observation"), dict) else {}
        step.output = _texts(obs.get("content"))
        step.is_error = bool(obs.get("is_error"))
        if obs.get("kind"):
            step.meta["observation"] = obs["kind"]
        if "exit_code" in obs or obs.get("kind") == "TerminalObservation":
            code = obs.get("exit_code")
            if isinstance(code, int) and code != -1:
                step.exit_code = code
                step.is_error = step.is_error or code != 0
            elif code == -1:  # no exit status: the command was still running when OpenHands returned
                step.meta["still_running"] = True
            if obs.get("timeout"):
                step.meta["timeout"] = True
                step.is_error = True
        if obs.get("kind") == "FileEditorObservation" and obs.get("command") != "view":
            diff = file_diff(str(obs.get("path") or ""), obs.get("old_content"), obs.get("new_content"))
            if diff:
                step.meta["diff"] = diff
            if obs.get("prev_exist") is False:
                step.meta["created"] = True

    def error(self, event: dict[str, Any], ts: str | None) -> None:
        step = self._call_for(event, ts)
        step.output = str(event.get("error") if event.get("kind") == "AgentErrorEvent"
                          else f"Action rejected: {event.get('rejection_reason') or ''}")
        step.is_error = True
        step.meta["observation"] = event.get("kind")
        if event.get("kind") == "UserRejectObservation":
            step.meta["rejected_by"] = event.get("rejection_source") or "user"


def _state_summary(state: dict[str, Any]) -> tuple[str | None, dict[str, Usage], Usage, list[str]]:
    """(the agent's model, usage per response id, usage of all calls, every model that answered)."""
    agent = state.get("agent") if isinstance(state.get("agent"), dict) else {}
    llm = agent.get("llm") if isinstance(agent.get("llm"), dict) else {}
    model = llm.get("model") if isinstance(llm.get("model"), str) else None
    by_response: dict[str, Usage] = {}
    total = Usage()
    models: dict[str, None] = {model: None} if model else {}
    stats = state.get("stats") if isinstance(state.get("stats"), dict) else {}
    metrics = stats.get("usage_to_metrics") if isinstance(stats.get("usage_to_metrics"), dict) else {}
    for usage_id, metric in metrics.items():
        if not isinstance(metric, dict):
            continue
        for entry in metric.get("token_usages") or []:
            if not isinstance(entry, dict):
                continue
            usage = _usage(entry)
            total.add(usage)
            if isinstance(entry.get("model"), str) and entry["model"]:
                models.setdefault(entry["model"], None)
            if usage_id == "agent" and isinstance(entry.get("response_id"), str) and entry["response_id"]:
                by_response[entry["response_id"]] = usage
    return model, by_response, total, list(models)


def parse_bundle(path: str, lines: Iterable[Line]) -> ParsedFile:
    """One conversation's bundle → its session. An entry that could not be read is an error naming its file;
    a bundle with neither state nor events gives no session."""
    result = ParsedFile()
    state: dict[str, Any] = {}
    events: list[tuple[int, dict[str, Any]]] = []
    for line_no, entry in json_objects(lines, result.errors):
        if "error" in entry:
            result.errors.append((line_no, f"{entry.get('file')}: {entry['error']}"))
        elif not isinstance(entry.get("data"), dict):
            result.errors.append((line_no, f"{entry.get('file')}: expected a JSON object"))
        elif entry.get("kind") == "state":
            state = entry["data"]
        else:
            events.append((line_no, entry["data"]))
    if not state and not events:
        return result
    sid = str(state.get("id") or Path(path).stem).replace("-", "")
    model, by_response, total, models = _state_summary(state)
    session = Session(id=f"openhands-{sid}", source="openhands", source_path=path, models=models, usage=total)
    workspace = state.get("workspace") if isinstance(state.get("workspace"), dict) else {}
    if isinstance(workspace.get("working_dir"), str):
        session.cwd = session.project = workspace["working_dir"]
    for key in ("execution_status", "max_iterations"):
        if key in state:
            session.meta[key] = state[key]
    agent = state.get("agent") if isinstance(state.get("agent"), dict) else {}
    if isinstance(agent.get("tools"), list):
        session.meta["tools"] = [t.get("name") for t in agent["tools"] if isinstance(t, dict)]
    for key in ("confirmation_policy", "security_analyzer"):
        if isinstance(state.get(key), dict) and state[key].get("kind"):
            session.meta[key] = state[key]["kind"]
    builder = _Builder(session, model, by_response)
    stamps: list[str] = []
    for line_no, event in events:
        kind, ts = event.get("kind"), iso_local(event.get("timestamp"))
        if ts:
            stamps.append(ts)
        if kind == "SystemPromptEvent":
            prompt = event.get("system_prompt")
            session.meta["system_prompt"] = _texts([prompt]) if isinstance(prompt, dict) else _texts(prompt)
        elif kind == "MessageEvent":
            builder.message(event, ts)
        elif kind == "ActionEvent":
            builder.action(event, ts)
        elif kind == "ObservationEvent":
            builder.observation(event, ts)
        elif kind in ("AgentErrorEvent", "UserRejectObservation"):
            builder.error(event, ts)
        elif kind in ("Condensation", "CondensationSummaryEvent"):
            summary = event.get("summary")
            builder.add(Step(kind="message", role="system", text=summary if isinstance(summary, str) else "",
                             timestamp=ts, meta={"event": kind, "compaction": True,
                                                 "forgotten": len(event.get("forgotten_event_ids") or [])}))
        elif kind == "ConversationErrorEvent":
            builder.add(Step(kind="message", role="system", text=f"{event.get('code')}: {event.get('detail')}",
                             timestamp=ts, meta={"event": kind, "error": True}))
        elif kind is None:
            result.errors.append((line_no, "event without a `kind`"))
        # other kinds (PauseEvent, state updates, hook runs, token streams) carry nothing a session holds
    if stamps:
        session.started_at, session.ended_at = min(stamps), max(stamps)
    if session.turns:
        result.sessions.append(session)
    return result
