"""Public trace datasets (`bashgym import file DATASET`) → canonical Sessions with source="import".

Inputs: a JSONL file (one record a line, read incrementally), a JSON file (a list of records, or one record
such as an ATIF trajectory), a Parquet file, or a `datasets.save_to_disk` directory (its Arrow shards).
Formats, one per record (docs/formats.md has the field tables):
- `openai`: {"messages": [{role, content, tool_calls: [{id, function: {name, arguments}}], tool_call_id}],
  "tools"?} — OpenAI/TRL chat.
- `sharegpt`: {"conversations": [{from: human|gpt|system|function_call|observation|tool, value}]}, with
  Hermes-style `<tool_call>{...}</tool_call>` blocks inside gpt turns.
- `adp`: Agent Data Protocol {"id", "content": [{class_: text_observation | message_action | api_action |
  code_action | web_observation, ...}], "details"}.
- `atif`: Harbor's Agent Trajectory Interchange Format {"schema_version": "ATIF-v1.x", session_id, agent,
  steps: [{step_id, source, message, reasoning_content, tool_calls, observation: {results}, metrics}]},
  subagent trajectories referenced by `subagent_trajectory_ref` (loaded from `trajectory_path` beside the
  file, or embedded under `trajectory`).
Session ids come from the record's own id, else a hash of its content, so re-importing adds nothing.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from bashgym.errors import BashgymError, did_you_mean
from bashgym.schema import MESSAGE_ID, Session, Step, Turn, Usage
from bashgym.sources.base import Line, ParsedFile

FORMATS = ("openai", "sharegpt", "adp", "atif")
ID_KEYS = ("id", "session_id", "trajectory_id", "conversation_id", "uuid", "sample_id")
HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
HERMES_RESPONSE = re.compile(r"^\s*<tool_response>\s*(.*?)\s*</tool_response>\s*$", re.S)
SHARE_USER = {"human", "user"}
SHARE_ASSISTANT = {"gpt", "assistant", "model", "chatgpt", "bot"}
SHARE_CALL = {"function_call", "tool_call"}
SHARE_RESULT = {"observation", "tool", "function_response", "ipython", "tool_response"}
SHELL_LANGUAGES = {"bash", "sh", "shell", "zsh", "console"}


class UnknownFormatError(BashgymError):
    """A dataset whose records match none of the known trace formats."""


# ------------------------------------------------------------------------------------------ detection

def detect_record(record: Any) -> str | None:
    """The format of one record, or None.

    >>> detect_record({"messages": [{"role": "user", "content": "hi"}]})
    'openai'
    """
    if not isinstance(record, dict):
        return None
    version = record.get("schema_version")
    if (isinstance(version, str) and version.upper().startswith("ATIF")) or (
            isinstance(record.get("steps"), list) and isinstance(record.get("agent"), dict)):
        return "atif"
    content = record.get("content")
    if isinstance(content, list) and content and all(isinstance(c, dict) and "class_" in c for c in content[:5]):
        return "adp"
    messages = record.get("messages")
    if isinstance(messages, list) and messages and all(isinstance(m, dict) and "role" in m for m in messages[:5]):
        return "openai"
    conv = record.get("conversations", record.get("conversation"))
    if isinstance(conv, list) and conv and all(isinstance(m, dict) and "from" in m and "value" in m
                                               for m in conv[:5]):
        return "sharegpt"
    return None


def describe(record: Any) -> str:
    """What a record looks like, for refusal messages: its keys, or its type."""
    if isinstance(record, dict):
        keys = sorted(record)
        return "keys " + ", ".join(keys[:12]) + (f" (+{len(keys) - 12} more)" if len(keys) > 12 else "")
    return f"a JSON {type(record).__name__}"


def dataset_files(path: Path) -> list[Path]:
    """The files a dataset path stands for: itself, or a saved HF dataset's Arrow shards / Parquet files."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.arrow") if not p.name.startswith("cache-"))
        files = files or sorted(path.rglob("*.parquet")) or sorted(path.rglob("*.jsonl"))
        # A directory of trajectories (Harbor job output): every trajectory.json; subagent files beside a
        # trajectory.json (trajectory.<name>.json) are read through their parent's reference instead.
        return files or sorted(p for p in path.rglob("*.json")
                               if not (p.name.startswith("trajectory.") and p.name != "trajectory.json"
                                       and (p.parent / "trajectory.json").exists()))
    return []


def iter_records(path: str, data: bytes, first_line: int = 1) -> Iterator[tuple[int, Any, str | None]]:
    """(line or row number, record, error) for every record in a file's bytes."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".arrow"):
        try:
            table = _read_table(suffix, data)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
            yield 1, None, f"cannot read {suffix[1:]} data ({type(exc).__name__}: {exc})"
            return
        for n, row in enumerate(table.to_pylist(), start=1):
            yield n, _decode_json_columns(row), None
        return
    if suffix == ".json":
        try:
            doc = orjson.loads(data) if data.strip() else []
        except orjson.JSONDecodeError as exc:
            yield 1, None, f"invalid JSON document ({exc})"
            return
        records = doc if isinstance(doc, list) else [doc]
        for n, record in enumerate(records, start=1):
            yield n, record, None
        return
    for n, raw in enumerate(data.split(b"\n"), start=first_line):
        if not raw.strip():
            continue
        try:
            yield n, orjson.loads(raw), None
        except orjson.JSONDecodeError as exc:
            yield n, None, f"invalid JSON ({exc}); line starts {raw[:60]!r}"


def _read_table(suffix: str, data: bytes) -> Any:
    import pyarrow as pa

    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(data))
    try:
        return pa.ipc.open_stream(data).read_all()  # datasets.save_to_disk writes the streaming format
    except pa.ArrowInvalid:
        return pa.ipc.open_file(data).read_all()


def _decode_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    """Columns stored as JSON strings (common for `tools`, ATIF `steps`) → objects."""
    for key in ("messages", "conversations", "content", "steps", "tools", "agent"):
        value = row.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                row[key] = orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
    return row


def detect_format(path: Path, sample: int = 20) -> tuple[str, str]:
    """(format, how it was decided) from the first records of a dataset; UnknownFormatError when none fit."""
    files = dataset_files(path)
    if not files:
        raise UnknownFormatError(f"{path}: no dataset file found (expected .jsonl, .json, .parquet or a saved "
                                 "HF datasets directory)")
    seen: list[str] = []
    counts: dict[str, int] = {}
    for file in files[:3]:
        data = _head_bytes(file)
        for n, record, error in iter_records(str(file), data):
            if error:
                continue
            fmt = detect_record(record)
            if fmt:
                counts[fmt] = counts.get(fmt, 0) + 1
            elif len(seen) < 3:
                seen.append(f"{file.name}:{n}: {describe(record)}")
            if sum(counts.values()) + len(seen) >= sample:
                break
        if counts:
            break
    if not counts:
        what = "; ".join(seen) or "no readable records"
        raise UnknownFormatError(
            f"{path}: unknown dataset shape — found {what}. Known formats: openai (messages), sharegpt "
            "(conversations with from/value), adp (content items with class_), atif (schema_version ATIF-*, "
            "steps). Pass --format to force one.")
    fmt = max(counts, key=lambda k: counts[k])
    return fmt, f"{counts[fmt]} of the first {sum(counts.values()) + len(seen)} records look like {fmt}"


def _head_bytes(file: Path, limit: int = 4 << 20) -> bytes:
    if file.suffix.lower() in (".jsonl", ""):
        with open(file, "rb") as fh:
            data = fh.read(limit)
        return data[: data.rfind(b"\n") + 1] if len(data) == limit else data
    return file.read_bytes()


# ------------------------------------------------------------------------------------------ the source

class DatasetSource:
    """A SourceFormat for one dataset path; JSONL is read incrementally, other files whole."""

    name = "file"
    source = "import"

    def __init__(self, fmt: str = "auto", line_based: bool = True) -> None:
        if fmt != "auto" and fmt not in FORMATS:
            raise UnknownFormatError(
                f"unknown format {fmt!r}{did_you_mean(fmt, FORMATS)}; known: auto, {', '.join(FORMATS)}"
            )
        self.format = fmt
        self.line_based = line_based

    @classmethod
    def for_path(cls, path: Path, fmt: str = "auto") -> DatasetSource:
        files = dataset_files(path)
        jsonl = bool(files) and all(f.suffix.lower() == ".jsonl" for f in files)
        return cls(fmt, line_based=jsonl)

    def default_root(self) -> Path:
        return Path.cwd()

    def discover(self, root: Path) -> list[Path]:
        return dataset_files(root)

    def parse(self, path: str, lines: Iterable[Line]) -> ParsedFile:
        result = ParsedFile()
        ids: dict[str, int] = {}
        chunks = list(lines)
        if self.line_based:
            records = []
            for n, raw in chunks:
                if not raw.strip():
                    continue
                try:
                    records.append((n, orjson.loads(raw), None))
                except orjson.JSONDecodeError as exc:
                    records.append((n, None, f"invalid JSON ({exc}); line starts {raw[:60]!r}"))
        else:
            records = list(iter_records(path, b"\n".join(raw for _, raw in chunks)))
        for n, record, error in records:
            if error:
                result.errors.append((n, error))
                continue
            fmt = self.format if self.format != "auto" else detect_record(record)
            if fmt is None or (self.format != "auto" and detect_record(record) not in (fmt, None)):
                result.errors.append((n, f"record is not {self.format if self.format != 'auto' else 'a known format'}"
                                         f" ({describe(record)})"))
                continue
            try:
                sessions = PARSERS[fmt](record, path)
            except (TypeError, AttributeError, ValueError, KeyError) as exc:
                result.errors.append((n, f"unexpected {fmt} record shape: {type(exc).__name__}: {exc}"))
                continue
            if not sessions:
                result.errors.append((n, f"{fmt} record has no conversation ({describe(record)})"))
                continue
            for s in sessions:
                s.meta.setdefault("format", fmt)
                s.meta.setdefault("record", n)
                s.meta.setdefault("dataset", Path(path).name)
                if s.id in ids:  # the same id twice in one file: keep both, apart
                    ids[s.id] += 1
                    s.id = f"{s.id}-{ids[s.id]}"
                else:
                    ids[s.id] = 0
                result.sessions.append(s)
        return result


# ------------------------------------------------------------------------------------------ helpers

def record_id(record: dict[str, Any], fmt: str) -> str:
    """A stable session id: the record's own id when it has one, else a hash of its content."""
    for key in ID_KEYS:
        value = record.get(key)
        if isinstance(value, str | int) and str(value):
            return f"import-{value}"
    digest = hashlib.sha1(orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:20]
    return f"import-{fmt}-{digest}"


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for c in content:
            if isinstance(c, str):
                parts.append(c)
            elif isinstance(c, dict) and isinstance(c.get("text"), str):
                parts.append(c["text"])
        return "\n".join(parts)
    return orjson.dumps(content).decode()


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return raw
    return raw


def _named_call(raw: str) -> tuple[str | None, Any]:
    """(name, arguments) of a `{"name": …, "arguments": …}` call written as JSON text (Hermes / ShareGPT)."""
    data = _arguments(raw)
    if not isinstance(data, dict):
        return None, data
    return data.get("name"), _arguments(data.get("arguments"))


class _Conversation:
    """Shared turn building: user text opens a turn; calls wait for their results by id, else in order.
    The assistant text and calls between two results (or prompts) are one model message (MESSAGE_ID), so
    calls written together stay parallel and a call written after a result stays sequential."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.turn: Turn | None = None
        self.pending: list[Step] = []
        self.message = 0
        self.closed = True

    def _said(self, step: Step) -> Step:
        if self.closed:
            self.message += 1
            self.closed = False
        step.meta[MESSAGE_ID] = f"message-{self.message}"
        self.ensure().steps.append(step)
        return step

    def ensure(self) -> Turn:
        if self.turn is None:
            self.turn = Turn(index=len(self.session.turns))
            self.session.turns.append(self.turn)
        return self.turn

    def user(self, text: str, ts: str | None = None) -> None:
        self.turn = Turn(index=len(self.session.turns), prompt=text, started_at=ts, ended_at=ts)
        self.session.turns.append(self.turn)
        self.turn.steps.append(Step(kind="message", role="user", text=text, timestamp=ts))
        self.closed = True

    def assistant(self, text: str, thinking: str = "", ts: str | None = None, model: str | None = None) -> Step:
        return self._said(Step(kind="message", role="assistant", text=text, thinking=thinking, timestamp=ts,
                               model=model))

    def call(self, name: str | None, call_id: str | None, args: Any, ts: str | None = None,
             model: str | None = None) -> Step:
        step = self._said(Step(kind="tool_call", tool_name=name, call_id=call_id, input=args, timestamp=ts,
                               model=model))
        self.pending.append(step)
        return step

    def result(self, output: str, call_id: str | None = None, name: str | None = None,
               is_error: bool = False) -> Step:
        step = None
        if call_id:
            step = next((s for s in self.pending if s.call_id == call_id), None)
        if step is None and self.pending and not call_id:
            step = next((s for s in self.pending if name is None or s.tool_name == name), self.pending[0])
        if step is None:
            step = Step(kind="tool_call", tool_name=name, call_id=call_id, meta={"orphan_result": True})
            self.ensure().steps.append(step)
        else:
            self.pending.remove(step)
        step.output = output
        step.is_error = is_error
        self.closed = True
        return step

    def finish(self) -> None:
        for step in self.pending:
            step.meta["no_result"] = True


# ------------------------------------------------------------------------------------------ formats

def parse_openai(record: dict[str, Any], path: str) -> list[Session]:
    session = Session(id=record_id(record, "openai"), source="import", source_path=path)
    conv = _Conversation(session)
    for m in record.get("messages") or []:
        role = m.get("role")
        if role in ("system", "developer"):
            session.meta.setdefault("system_prompt", _text(m.get("content")))
        elif role == "user":
            conv.user(_text(m.get("content")))
        elif role == "assistant":
            text = _text(m.get("content"))
            thinking = m.get("reasoning_content") or m.get("reasoning") or m.get("thinking") or ""
            if text or thinking or not m.get("tool_calls"):
                conv.assistant(text, thinking if isinstance(thinking, str) else "")
            for call in m.get("tool_calls") or []:
                fn = call.get("function") or {}
                conv.call(fn.get("name"), call.get("id"), _arguments(fn.get("arguments")))
        elif role in ("tool", "function"):
            conv.result(_text(m.get("content")), m.get("tool_call_id"), m.get("name"))
    conv.finish()
    if record.get("tools"):
        session.meta["tools"] = record["tools"]
    return [session] if session.turns else []


def parse_sharegpt(record: dict[str, Any], path: str) -> list[Session]:
    session = Session(id=record_id(record, "sharegpt"), source="import", source_path=path)
    conv = _Conversation(session)
    for n, m in enumerate(record.get("conversations", record.get("conversation")) or []):
        who, value = str(m.get("from")).lower(), m.get("value")
        text = value if isinstance(value, str) else _text(value)
        if who == "system":
            session.meta.setdefault("system_prompt", text)
        elif who in SHARE_USER:
            conv.user(text)
        elif who in SHARE_ASSISTANT:
            calls = HERMES_CALL.findall(text)
            rest = HERMES_CALL.sub("", text).strip() if calls else text
            if rest or not calls:
                conv.assistant(rest)
            for i, raw in enumerate(calls):
                name, args = _named_call(raw)
                conv.call(name, f"call-{n}-{i}", args)
        elif who in SHARE_CALL:
            name, args = _named_call(text)
            conv.call(name, f"call-{n}", args)
        elif who in SHARE_RESULT:
            responses = re.findall(r"<tool_response>\s*(.*?)\s*</tool_response>", text, re.S)
            for output in responses or [text]:
                conv.result(output)
    conv.finish()
    if record.get("tools"):
        session.meta["tools"] = record["tools"]
    return [session] if session.turns else []


def parse_adp(record: dict[str, Any], path: str) -> list[Session]:
    session = Session(id=record_id(record, "adp"), source="import", source_path=path)
    conv = _Conversation(session)
    for n, item in enumerate(record.get("content") or []):
        cls = item.get("class_")
        thinking = item.get("reasoning_content") or item.get("description") or ""
        thinking = thinking if isinstance(thinking, str) else ""
        if cls == "text_observation" and item.get("source") == "user" and not item.get("tool_call_id"):
            conv.user(_text(item.get("content")))
        elif cls in ("text_observation", "web_observation", "image_observation"):
            if cls == "web_observation":
                output = item.get("html") or item.get("axtree") or item.get("content") or item.get("url") or ""
            else:
                output = _text(item.get("content"))
            if conv.pending or item.get("tool_call_id"):
                step = conv.result(output if isinstance(output, str) else _text(output), item.get("tool_call_id"),
                                   item.get("name"))
                if item.get("source"):
                    step.meta["observation_source"] = item["source"]
            else:
                conv.ensure().steps.append(Step(kind="message", role="system", text=output, meta={
                    "observation": cls, "source": item.get("source")}))
        elif cls == "message_action":
            conv.assistant(_text(item.get("content")), thinking)
        elif cls == "api_action":
            if thinking:
                conv.assistant("", thinking)
            conv.call(item.get("function"), item.get("tool_call_id") or f"call-{n}", item.get("kwargs") or {})
        elif cls == "code_action":
            if thinking:
                conv.assistant("", thinking)
            language = str(item.get("language") or "").lower()
            if language in SHELL_LANGUAGES:
                conv.call("bash", item.get("tool_call_id") or f"call-{n}", {"command": item.get("content") or ""})
            else:
                conv.call(f"execute_{language or 'code'}", item.get("tool_call_id") or f"call-{n}",
                          {"code": item.get("content") or "", "language": language})
    conv.finish()
    if record.get("details"):
        session.meta["details"] = record["details"]
    return [session] if session.turns else []


def parse_atif(record: dict[str, Any], path: str, parent_id: str | None = None, depth: int = 0) -> list[Session]:
    sid = record.get("session_id")
    session = Session(id=f"import-{sid}" if sid else record_id(record, "atif"), source="import", source_path=path,
                      parent_id=parent_id)
    agent = record.get("agent") or {}
    if agent.get("name"):
        session.agent_version = f"{agent['name']} {agent.get('version') or ''}".strip()
        session.meta["agent"] = agent.get("name")
    session.meta["schema_version"] = record.get("schema_version")
    default_model = agent.get("model_name")
    models: dict[str, None] = {default_model: None} if default_model else {}
    conv = _Conversation(session)
    children: list[Session] = []
    # bashgym's own ATIF rows carry the subagents' trajectories beside the steps that reference them
    embedded = {t.get("session_id"): t for t in record.get("subagent_trajectories") or [] if isinstance(t, dict)}
    for step in record.get("steps") or []:
        source, ts = step.get("source"), step.get("timestamp")
        if ts:
            session.started_at = session.started_at or ts
            session.ended_at = ts
        if source == "system":
            if not session.turns:
                session.meta.setdefault("system_prompt", step.get("message") or "")
            else:
                conv.ensure().steps.append(Step(kind="message", role="system", text=_text(step.get("message")),
                                                timestamp=ts))
        elif source == "user":
            conv.user(_text(step.get("message")), ts)
        else:
            model = step.get("model_name") or default_model
            if model:
                models[model] = None
            text, thinking = _text(step.get("message")), step.get("reasoning_content") or ""
            first = conv.assistant(text, thinking, ts, model) if (text or thinking or not step.get("tool_calls")) \
                else None
            for call in step.get("tool_calls") or []:
                made = conv.call(call.get("function_name"), call.get("tool_call_id"), call.get("arguments"), ts, model)
                first = first or made
            metrics = step.get("metrics") or {}
            if metrics and first is not None:
                usage = Usage(max(0, int(metrics.get("prompt_tokens") or 0) - int(metrics.get("cached_tokens") or 0)),
                              int(metrics.get("completion_tokens") or 0), int(metrics.get("cached_tokens") or 0))
                conv.ensure().usage.add(usage)
                session.usage.add(usage)
                first.meta["metrics"] = {k: metrics[k] for k in ("prompt_tokens", "completion_tokens",
                                                                 "cached_tokens", "cost_usd") if k in metrics}
            for res in (step.get("observation") or {}).get("results") or []:
                refs = res.get("subagent_trajectory_ref") or []
                content = res.get("content")
                if res.get("source_call_id") or conv.pending:
                    made = conv.result(_text(content), res.get("source_call_id"))
                else:
                    made = Step(kind="message", role="tool", text=_text(content), timestamp=ts,
                                meta={"observation": True})
                    conv.ensure().steps.append(made)
                for ref in refs:
                    if "trajectory" not in ref and ref.get("session_id") in embedded:
                        ref = {**ref, "trajectory": embedded[ref["session_id"]]}
                    made.meta.setdefault("subagent_session_ids", []).append(f"import-{ref.get('session_id')}")
                    children.extend(_subagent(ref, path, session.id, depth))
    conv.finish()
    session.models = [m for m in models if m]
    final = record.get("final_metrics") or {}
    if final:
        session.meta["final_metrics"] = final
    return ([session] if session.turns else []) + children


def _subagent(ref: dict[str, Any], path: str, parent_id: str, depth: int) -> list[Session]:
    """A referenced subagent trajectory: embedded under `trajectory`, or a file beside the parent's."""
    if depth >= 8:
        return []
    doc = ref.get("trajectory")
    sub_path = path
    if not isinstance(doc, dict) and isinstance(ref.get("trajectory_path"), str):
        candidate = Path(path).parent / ref["trajectory_path"]
        try:
            doc = orjson.loads(candidate.read_bytes())
            sub_path = str(candidate)
        except (OSError, orjson.JSONDecodeError):
            doc = None
    if not isinstance(doc, dict):
        return []
    sessions = parse_atif(doc, sub_path, parent_id=parent_id, depth=depth + 1)
    for s in sessions:
        if s.parent_id == parent_id:
            s.meta["subagent"] = True
    return sessions


PARSERS = {"openai": parse_openai, "sharegpt": parse_sharegpt, "adp": parse_adp, "atif": parse_atif}
