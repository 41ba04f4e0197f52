"""mini-swe-agent trajectories (`*.traj.json`) → canonical Sessions.

Facts the parser relies on (mini-swe-agent 2.4.6, `minisweagent/agents/default.py` `serialize`,
`models/litellm_model.py`, `models/utils/actions_toolcall.py`; measured with the real `mini` in
tests/test_mini_swe_agent_cli_e2e.py; docs/formats.md):
- One JSON document per run, rewritten whole after every step: {trajectory_format: "mini-swe-agent-1.1",
  info: {mini_version, exit_status, submission, model_stats {instance_cost, api_calls}, config {agent {…,
  instance_template}, model {model_name, …}, environment {cwd, …}}}, messages: [...]}. `mini` writes
  `~/.config/mini-swe-agent/last_mini_run.traj.json` unless `-o` names another file (each run overwrites it).
- messages are the chat the model saw: `system`, `user` (the instance template rendered around the task), then
  `assistant` messages (OpenAI shape: content, tool_calls [{id, function {name: "bash", arguments}}],
  `extra` {actions [{command, tool_call_id}], response (the raw completion, with usage), cost, timestamp}),
  `tool` messages (content rendered from the observation template; `extra` {raw_output, returncode,
  exception_info, timestamp}; `returncode: -1, exception_info: "action was not executed"` for the submit
  command, which ends the run from inside its execution), `user` messages with `extra.interrupt_type` (format errors the agent was told
  about) and, last, an `exit` message {content, extra {exit_status, submission}}.
- No session id and no start time are stored: the id is derived from the file's name and the first completion's
  id, so a later run into the same file is a new session while a growing one keeps its id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.sources.base import Line, ParsedFile, discover_files

# What mini writes for a call it did not run: the command that submits ends the run from inside its own
# execution, so its result (and that of any call after it in the same reply) is recorded this way.
NOT_EXECUTED = "action was not executed"


class MiniSweAgentSource:
    name = "mini-swe-agent"
    source = "mini_swe_agent"
    line_based = False

    def default_root(self) -> Path:
        return Path.home() / ".config" / "mini-swe-agent"

    def discover(self, root: Path) -> list[Path]:
        return discover_files(root, "*.traj.json")

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        return parse_trajectory(path, b"\n".join(raw for _, raw in lines))


def _iso(seconds: Any) -> str | None:
    if not isinstance(seconds, int | float):
        return None
    return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _text(content: Any) -> str:
    """Text of an OpenAI message content (a string, or a list of {type: text, text} parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def task_from_instance(rendered: str, template: Any) -> str:
    """The task `mini` was given, cut out of the rendered first user message by the template's literal text
    around `{{task}}`; the whole message when the template does not show where the task is.

    >>> task_from_instance("Please solve this issue: fix it\\n\\nYou can ...", "Please solve this issue: {{task}}\\n\\nYou {{x}}")
    'fix it'
    """
    if not isinstance(template, str):
        return rendered
    at = next((template.find(m) for m in ("{{task}}", "{{ task }}") if m in template), -1)
    if at < 0:
        return rendered
    head = template[:at]
    tail = template[template.index("}}", at) + 2:]
    for marker in ("{{", "{%", "{#"):
        if marker in head:
            return rendered
        cut = tail.find(marker)
        if cut >= 0:
            tail = tail[:cut]
    if not rendered.startswith(head):
        return rendered
    end = rendered.find(tail, len(head)) if tail else len(rendered)
    return rendered[len(head):end] if end >= 0 else rendered


def _usage(response: Any) -> Usage:
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return Usage()
    cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
    return Usage(input_tokens=max(0, int(usage.get("prompt_tokens") or 0) - cached),
                 output_tokens=int(usage.get("completion_tokens") or 0), cache_read_tokens=cached)


def parse_trajectory(path: str, data: bytes) -> ParsedFile:
    """One trajectory file → its session; a file that is not a mini-swe-agent trajectory is an error naming
    what was found."""
    result = ParsedFile()
    try:
        doc = orjson.loads(data) if data.strip() else None
    except orjson.JSONDecodeError as exc:
        result.errors.append((1, f"invalid JSON document ({exc})"))
        return result
    if doc is None:
        return result
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        shape = ", ".join(sorted(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
        result.errors.append((1, f"not a mini-swe-agent trajectory: no `messages` list (found: {shape})"))
        return result
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    model = (config.get("model") or {}).get("model_name") if isinstance(config.get("model"), dict) else None
    template = (config.get("agent") or {}).get("instance_template") if isinstance(config.get("agent"), dict) else None
    messages = [m for m in doc["messages"] if isinstance(m, dict)]
    first_response = next((str((m.get("extra") or {}).get("response", {}).get("id") or "") for m in messages
                           if m.get("role") == "assistant" and isinstance(m.get("extra"), dict)
                           and isinstance(m["extra"].get("response"), dict)), "")
    digest = hashlib.sha1(f"{Path(path).name}\n{first_response}".encode()).hexdigest()[:16]
    session = Session(id=f"mini-swe-agent-{digest}", source="mini_swe_agent", source_path=path,
                      agent_version=info.get("mini_version"), models=[model] if model else [])
    env = config.get("environment") if isinstance(config.get("environment"), dict) else {}
    if env.get("cwd"):
        session.cwd = session.project = env["cwd"]
    session.meta.update({k: info[k] for k in ("exit_status", "submission", "model_stats") if k in info})
    session.meta["trajectory_format"] = doc.get("trajectory_format")
    _build_turns(session, messages, model, template)
    stamps = [t for turn in session.turns for t in (turn.started_at, turn.ended_at) if t]
    session.started_at, session.ended_at = (min(stamps), max(stamps)) if stamps else (None, None)
    if session.turns:
        result.sessions.append(session)
    return result


def _build_turns(session: Session, messages: list[dict[str, Any]], model: str | None, template: Any) -> None:
    turn: Turn | None = None
    calls: dict[str, Step] = {}
    seen_instance = False

    def ensure(ts: str | None) -> Turn:
        nonlocal turn
        if turn is None:
            turn = Turn(index=len(session.turns), started_at=ts, ended_at=ts)
            session.turns.append(turn)
        return turn

    for msg in messages:
        role, extra = msg.get("role"), msg.get("extra") if isinstance(msg.get("extra"), dict) else {}
        ts = _iso(extra.get("timestamp"))
        text = _text(msg.get("content"))
        if role == "system":
            session.meta["system_prompt"] = text
            continue
        if role == "user" and not extra:
            prompt = task_from_instance(text, template) if not seen_instance else text
            seen_instance = True
            turn = Turn(index=len(session.turns), prompt=prompt, started_at=ts, ended_at=ts)
            session.turns.append(turn)
            turn.steps.append(Step(kind="message", role="user", text=prompt, timestamp=ts,
                                   meta={"rendered": text} if prompt != text else {}))
            continue
        t = ensure(ts)
        if role == "assistant":
            response = extra.get("response") if isinstance(extra.get("response"), dict) else {}
            mid = {MESSAGE_ID: response["id"]} if response.get("id") else {}
            thinking = _text(msg.get("reasoning_content"))
            if text or thinking:
                t.steps.append(Step(kind="message", role="assistant", text=text, thinking=thinking, timestamp=ts,
                                    model=model, meta=dict(mid)))
            for call in msg.get("tool_calls") or []:
                if not isinstance(call, dict):
                    continue
                function = call.get("function") if isinstance(call.get("function"), dict) else {}
                try:
                    args = orjson.loads(function.get("arguments") or "{}")
                except orjson.JSONDecodeError:
                    args = function.get("arguments")
                step = Step(kind="tool_call", tool_name=function.get("name"), call_id=call.get("id"), input=args,
                            timestamp=ts, model=model, meta={**mid, "no_result": True})
                t.steps.append(step)
                if step.call_id:
                    calls[step.call_id] = step
            usage = _usage(response)
            t.usage.add(usage)
            session.usage.add(usage)
        elif role == "tool" or (role == "user" and "returncode" in extra):
            step = calls.get(msg.get("tool_call_id") or "")
            if step is None:  # a command the human issued in interactive mode, or a result without its call
                step = Step(kind="tool_call", tool_name="bash", call_id=msg.get("tool_call_id"), timestamp=ts,
                            meta={"issued_by": "user"} if role == "user" else {"orphan_result": True})
                t.steps.append(step)
            step.meta.pop("no_result", None)
            raw = extra.get("raw_output")
            step.output = raw if isinstance(raw, str) else text
            code = extra.get("returncode")
            if extra.get("exception_info") == NOT_EXECUTED:  # the run ended first (the submit command itself)
                step.meta["not_executed"] = True
                continue
            step.exit_code = code if isinstance(code, int) else None
            step.is_error = bool(extra.get("exception_info")) or step.exit_code not in (None, 0)
            if extra.get("exception_info"):
                step.meta["exception_info"] = extra["exception_info"]
        elif role == "exit":
            t.steps.append(Step(kind="message", role="system", text=text, timestamp=ts,
                                meta={"exit_status": extra.get("exit_status")}))
        else:  # a format error the agent was told about, or another role
            t.steps.append(Step(kind="message", role="system" if role == "user" else str(role), text=text,
                                timestamp=ts, meta={k: extra[k] for k in ("interrupt_type",) if k in extra}))
        if ts:
            t.ended_at = max(t.ended_at or ts, ts)
            t.started_at = t.started_at or ts
