"""Formats: examples → rows in the shapes trainers and other tools read.

Every format writes a turn the same way (docs/formats.md, "Training rows"): `schema.conversation(turn)`
gives the prompt exactly once, then what followed; `dialogue` groups it into messages:
- a user message per user step (the prompt, an interrupt, a local command the CLI showed the model) and
  per compaction summary (the model saw it as a user message); other system steps (CLI notices, compaction
  boundaries) were never shown to the model and are left out, and so are assistant messages the CLI wrote
  itself (Claude Code's `<synthetic>` model: "No response requested.", API errors) and commands the user
  ran themselves (tool calls with role user, OpenCode's `!`);
- an assistant message per model message: text, thinking (only with `include_thinking`), and the tool
  calls made in it. Calls made together (one model message, `schema.same_message`) stay one assistant
  message followed by their results; a call made after a result starts the next assistant message.

- `messages`: OpenAI/TRL chat (`messages` with `tool_calls` whose `arguments` is an object, as chat
  templates render it, tool messages with `tool_call_id` and `name`) plus `tools` (JSON-schema function
  specs), as TRL's SFTTrainer takes them.
- `sharegpt`: `conversations` of {from, value} with function_call / observation turns (LLaMA-Factory), `tools`
  as a JSON string; a function_call's value is the JSON string {"name", "arguments"}, one per call.
- `adp`: Agent Data Protocol trajectories: `content` alternating actions (code_action for shell commands,
  api_action with `kwargs` an object for other tools, message_action) and text observations; calls made
  together are consecutive actions followed by their observations in order.
- `atif`: Harbor's Agent Trajectory Interchange Format: one agent step per model message with its
  `tool_calls` (`arguments` an object) and observation results; a subagent's trajectory is kept linked
  (`subagent_trajectory_ref`) and included in `subagent_trajectories`.
- `dpo`: `prompt` / `chosen` / `rejected` from turns with the same request where one succeeded and one
  failed (or a human labelled one good and one bad); `kto`: `prompt` / `completion` / `label` (bool).

The writer stores conversation columns as `datasets.Json` values, so arguments of different tools never
share one Arrow struct. Each row also carries `_groups` (the root session ids it came from) for the
splitter; the writer drops it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from bashgym.factory.config import ShapeConfig
from bashgym.factory.pipeline import Example, PipelineStep
from bashgym.factory.select import pair_key
from bashgym.quality import is_desirable
from bashgym.schema import (
    MESSAGE_ID,
    Session,
    Step,
    Turn,
    conversation,
    is_shell_call,
    same_message,
    shell_command,
)

Row = dict[str, Any]

# The shape of the rows these writers produce; stats.json records it, `bashgym dataset list` flags datasets
# written with an older one and `bashgym dataset rebuild --outdated` rebuilds them. 1: before rows followed
# schema.conversation (each prompt written twice, sequential calls merged into one message, arguments as
# JSON strings); 2: now.
ROWS_VERSION = 2

ATIF_VERSION = "ATIF-v1.4"

_STRING = {"type": "string"}
TOOL_SPECS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "Bash": ("Run a bash command and return its output.", {"command": _STRING, "description": _STRING},
             ["command"]),
    "Read": ("Read a file, with line numbers.", {"file_path": _STRING, "offset": {"type": "integer"},
             "limit": {"type": "integer"}}, ["file_path"]),
    "Write": ("Write a file.", {"file_path": _STRING, "content": _STRING}, ["file_path", "content"]),
    "Edit": ("Replace a string in a file.", {"file_path": _STRING, "old_string": _STRING,
             "new_string": _STRING, "replace_all": {"type": "boolean"}}, ["file_path", "old_string", "new_string"]),
    "Grep": ("Search file contents with a regular expression.", {"pattern": _STRING, "path": _STRING,
             "glob": _STRING, "output_mode": _STRING}, ["pattern"]),
    "Glob": ("Find files by glob pattern.", {"pattern": _STRING, "path": _STRING}, ["pattern"]),
}
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def tool_spec(name: str, example_inputs: Iterable[Any] = ()) -> dict[str, Any]:
    """The JSON-schema function spec of a tool: known tools have a fixed one (`bash` is the gym's own, so a bash
    dataset shows the model the tool `bashgym eval` and GRPO offer), others are inferred from the inputs seen."""
    from bashgym.gym.protocol import BASH_TOOL  # here: importing bashgym.gym registers the gymnasium env

    if name == BASH_TOOL["function"]["name"]:
        return orjson.loads(orjson.dumps(BASH_TOOL))  # a copy: the protocol's constant stays as it is
    if name in TOOL_SPECS:
        desc, props, required = TOOL_SPECS[name]
    else:
        props = {}
        for data in example_inputs:
            if isinstance(data, dict):
                for key, value in data.items():
                    props.setdefault(str(key), {"type": _JSON_TYPES.get(type(value), "string")})
        desc, required = f"The {name} tool.", []
    return {"type": "function", "function": {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required}}}


def tools_of(ex: Example) -> list[dict[str, Any]]:
    inputs: dict[str, list[Any]] = defaultdict(list)
    for turn in ex.turns:
        for step in turn.steps:
            if step.kind == "tool_call" and step.tool_name:
                inputs[step.tool_name].append(step.input)
    return [tool_spec(name, seen) for name, seen in sorted(inputs.items())]


def _call_id(step: Step, n: int) -> str:
    return step.call_id or f"call_{n}"


def arguments(step: Step) -> dict[str, Any]:
    """A call's arguments as the object chat templates and the formats' specs expect."""
    return step.input if isinstance(step.input, dict) else {"input": step.input}


@dataclass
class Said:
    """One message of a turn's dialogue: a user message (`text`), or an assistant message (`text`,
    `thinking`, the tool-call steps made in it, whose results follow it)."""

    role: str
    text: str = ""
    thinking: str = ""
    calls: list[Step] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


SYNTHETIC_MODEL = "<synthetic>"  # Claude Code's model name on assistant messages it writes itself


def shown_as_user(step: Step) -> bool:
    """Whether a non-assistant message step was shown to the model as a user message."""
    return step.role == "user" or (step.role == "system" and bool(step.meta.get("compact_summary")))


def dialogue(turn: Turn) -> list[Said]:
    """The turn as the messages the model saw and wrote, in order (see the module docstring)."""
    out: list[Said] = []
    cur: Said | None = None
    for step in conversation(turn):
        if step.model == SYNTHETIC_MODEL:
            continue  # the CLI's own words ("No response requested.", API errors), not the model's
        if step.kind == "tool_call" and step.role == "user":
            continue  # a command the user ran themselves (OpenCode's `!`): not a call the model made
        if step.kind == "message" and step.role != "assistant":
            cur = None
            if shown_as_user(step) and step.text:
                out.append(Said("user", step.text, steps=[step]))
            continue
        if cur is not None and cur.calls and not (step.kind == "tool_call" and same_message(cur.calls[-1], step)):
            cur = None  # a result came in between: this step is the model's next message
        if cur is None:
            cur = Said("assistant")
            out.append(cur)
        cur.steps.append(step)
        if step.kind == "tool_call":
            cur.calls.append(step)
        if step.text and (step.kind == "message" or not step.tool_name):
            cur.text = "\n\n".join(x for x in (cur.text, step.text) if x)
        if step.thinking:
            cur.thinking = "\n\n".join(x for x in (cur.thinking, step.thinking) if x)
    return out


def system_prompt(cfg: ShapeConfig) -> str | None:
    """The dataset's system message: the configured one; for a bash dataset (`tools: bash`, the gym's action
    space) the gym's own, so SFT trains on the prompt `bashgym eval` and GRPO show; else none."""
    from bashgym.gym.protocol import SYSTEM_PROMPT

    if cfg.system_prompt is not None:
        return cfg.system_prompt or None
    return SYSTEM_PROMPT if cfg.tools == "bash" else None


def to_messages(ex: Example, cfg: ShapeConfig) -> list[dict[str, Any]]:
    """The example as an OpenAI/TRL conversation: the prompt once, each model message an assistant message
    with its calls (arguments as objects), each call's result a tool message right after it."""
    msgs: list[dict[str, Any]] = []
    if system := system_prompt(cfg):
        msgs.append({"role": "system", "content": system})
    n = 0
    for turn in ex.turns:
        for said in dialogue(turn):
            if said.role == "user":
                msgs.append({"role": "user", "content": said.text})
                continue
            msg: dict[str, Any] = {"role": "assistant", "content": said.text}
            if cfg.include_thinking and said.thinking:
                msg["reasoning_content"] = said.thinking
            results = []
            for step in said.calls:
                n += 1
                call_id = _call_id(step, n)
                msg.setdefault("tool_calls", []).append(
                    {"type": "function", "id": call_id,
                     "function": {"name": step.tool_name or "tool", "arguments": arguments(step)}})
                results.append({"role": "tool", "tool_call_id": call_id, "name": step.tool_name or "tool",
                                "content": step.output or ""})
            if msg["content"] or msg.get("tool_calls") or msg.get("reasoning_content"):
                msgs.append(msg)
                msgs.extend(results)
    return msgs


def _meta(ex: Example) -> Row:
    idxs = ex.meta.get("turn_idxs") or [t.index for t in ex.turns]
    return {"example_id": ex.id, "session_id": ex.session.id, "turn_idx": idxs[0] if idxs else 0,
            "source": ex.session.source, "tier": ex.tier, "score": ex.score, "_groups": [ex.root_id],
            "_sessions": [ex.session.id, *(c.id for c in ex.children)]}


def to_sharegpt(ex: Example, cfg: ShapeConfig) -> Row:
    conv: list[dict[str, str]] = []
    for m in to_messages(ex, cfg):
        if m["role"] == "system":
            continue
        if m["role"] == "user":
            conv.append({"from": "human", "value": m["content"]})
        elif m["role"] == "tool":
            conv.append({"from": "observation", "value": m["content"]})
        else:
            if m["content"]:
                conv.append({"from": "gpt", "value": m["content"]})
            for call in m.get("tool_calls") or []:
                fn = call["function"]
                conv.append({"from": "function_call", "value": dumps({"name": fn["name"], "arguments": fn["arguments"]})})
    return {"conversations": conv, "system": system_prompt(cfg) or "", "tools": dumps(tools_of(ex))}


def _adp_content(turns: Iterable[Turn], include_thinking: bool) -> list[dict[str, Any]]:
    """ADP content; thinking (with include_thinking) is the `description` of the message's first action."""
    content: list[dict[str, Any]] = []
    for turn in turns:
        for said in dialogue(turn):
            if said.role == "user":
                content.append({"class_": "text_observation", "source": "user", "content": said.text})
                continue
            thought = (said.thinking if include_thinking else "") or None
            if said.text or (thought and not said.calls):
                content.append({"class_": "message_action", "content": said.text, "description": thought})
                thought = None
            for step in said.calls:
                if is_shell_call(step) or step.tool_name == "bash":
                    cmd = shell_command(step) if is_shell_call(step) else arguments(step).get("command", "")
                    content.append({"class_": "code_action", "language": "bash", "content": cmd or "",
                                    "description": thought})
                else:
                    content.append({"class_": "api_action", "function": step.tool_name or "tool",
                                    "kwargs": arguments(step), "description": thought, "tool_call_id": step.call_id})
                thought = None
            # the message's actions, then their observations in the same order (one each when sequential)
            content.extend({"class_": "text_observation", "source": "environment", "content": step.output or ""}
                           for step in said.calls)
    return content


def to_adp(ex: Example, cfg: ShapeConfig) -> Row:
    return {"id": ex.id, "content": _adp_content(ex.turns, cfg.include_thinking),
            "details": dumps({"source": ex.session.source, "project": ex.session.project,
                              "models": ex.session.models, "tier": ex.tier})}


def _spawned_by(parent_steps: list[Step], children: list[Session]) -> dict[str, list[str]]:
    """call_id → subagent session ids spawned by that call (from the call's meta, else by time)."""
    from bashgym.factory.segment import SPAWN_TOOLS, SUBAGENT_META_KEYS, spawning_call_id

    out: dict[str, list[str]] = defaultdict(list)
    placed: set[str] = set()
    for step in parent_steps:
        ids = {str(step.meta.get(k)) for k in SUBAGENT_META_KEYS if step.meta.get(k)}
        for child in children:
            if step.call_id and (child.id in ids or spawning_call_id(child) == step.call_id):
                out[step.call_id].append(child.id)
                placed.add(child.id)
    spawners = [s for s in parent_steps if s.tool_name in SPAWN_TOOLS and s.call_id]
    for child in children:
        if child.id not in placed and len(spawners) == 1:
            out[spawners[0].call_id or ""].append(child.id)
    return out


def atif_trajectory(session: Session, turns: list[Turn], children: list[Session],
                    include_thinking: bool = False) -> Row:
    """One ATIF trajectory: a user step per user message, an agent step per model message (its text,
    reasoning, tool calls and their observation results)."""
    steps: list[Row] = []
    all_steps = [s for t in turns for s in t.steps]
    direct = [c for c in children if c.parent_id == session.id]
    links = _spawned_by(all_steps, direct)
    n = 0
    for turn in turns:
        for said in dialogue(turn):
            first = said.steps[0] if said.steps else None
            ts = first.timestamp if first is not None and first.timestamp else turn.started_at
            if said.role == "user":
                steps.append({"step_id": len(steps) + 1, "timestamp": ts, "source": "user", "message": said.text})
                continue
            row: Row = {"step_id": len(steps) + 1, "timestamp": ts, "source": "agent",
                        "model_name": first.model if first is not None else None, "message": said.text,
                        "reasoning_content": (said.thinking if include_thinking else "") or None}
            if said.calls:
                calls, results = [], []
                for step in said.calls:
                    n += 1
                    call_id = _call_id(step, n)
                    refs = [{"session_id": cid, "trajectory_path": None} for cid in links.get(step.call_id or "", [])]
                    calls.append({"tool_call_id": call_id, "function_name": step.tool_name or "tool",
                                  "arguments": arguments(step)})
                    results.append({"source_call_id": call_id, "content": step.output or "",
                                    "subagent_trajectory_ref": refs or None})
                row["tool_calls"] = calls
                row["observation"] = {"results": results}
            steps.append(row)
    usage = session.usage
    return {
        "schema_version": ATIF_VERSION, "session_id": session.id,
        "agent": {"name": session.source, "version": session.agent_version or "",
                  "model_name": session.models[0] if session.models else None},
        "steps": steps,
        "final_metrics": {"total_prompt_tokens": usage.input_tokens, "total_completion_tokens": usage.output_tokens,
                          "total_cached_tokens": usage.cache_read_tokens, "total_steps": len(steps)},
    }


def to_atif(ex: Example, cfg: ShapeConfig) -> Row:
    row = atif_trajectory(ex.session, ex.turns, ex.children, cfg.include_thinking)
    row["subagent_trajectories"] = [
        atif_trajectory(c, c.turns, [d for d in ex.children if d.parent_id == c.id], cfg.include_thinking)
        for c in ex.children
    ]
    row["example_id"] = ex.id
    return row


SFT_FORMATTERS = {
    "messages": lambda ex, cfg: {"messages": to_messages(ex, cfg), "tools": tools_of(ex)},
    "sharegpt": to_sharegpt,
    "adp": to_adp,
    "atif": to_atif,
}


def verdict(ex: Example) -> bool | None:
    """True for a good example (gold/silver), False for a bronze or failed one, None when unknown; the
    tier already has any human label folded in (`bashgym.quality`)."""
    return is_desirable(ex.tier)


def prompt_and_completion(ex: Example, cfg: ShapeConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    msgs = to_messages(ex, cfg)
    first_user = next(i for i, m in enumerate(msgs) if m["role"] == "user")
    return msgs[: first_user + 1], msgs[first_user + 1 :]


class Format(PipelineStep):
    """Examples in, rows out. Preference formats collect examples first (pairs need the whole set)."""

    name = "format"

    def __init__(self, fmt: str, cfg: ShapeConfig) -> None:
        super().__init__()
        self.fmt, self.cfg = fmt, cfg

    @property
    def per_example(self) -> bool:
        """True when each example makes its row alone (SFT formats); preference formats need the whole set."""
        return self.fmt in SFT_FORMATTERS

    def rows(self, data: Iterable[Example]) -> Iterator[Row]:
        if self.fmt in SFT_FORMATTERS:
            fn = SFT_FORMATTERS[self.fmt]
            for ex in data:
                self.stats.total += 1
                if not ex.turns:
                    self.drop("empty")
                    continue
                row = fn(ex, self.cfg)
                for key, value in _meta(ex).items():
                    row.setdefault(key, value)
                self.stats.kept += 1
                self._count_unknown_grouping(ex)
                yield row
        elif self.fmt == "kto":
            yield from self._kto(data)
        elif self.fmt == "dpo":
            yield from self._dpo(data)
        else:  # pragma: no cover - config validation names the formats
            raise ValueError(self.fmt)

    def _count_unknown_grouping(self, ex: Example) -> None:
        """Count examples whose calls carry no MESSAGE_ID (stored before importers recorded it): they are
        written sequential; `bashgym import <source> --rederive` recovers which calls were parallel."""
        if any(s.kind == "tool_call" and s.role != "user" and MESSAGE_ID not in s.meta
               for t in ex.turns for s in t.steps):
            self.stats.counters["calls_without_message_id"] += 1

    def run(self, data: Iterable[Example]) -> Iterator[Example]:  # pragma: no cover - rows() is the API
        raise TypeError("Format yields rows: call .rows(examples)")

    def _kto(self, data: Iterable[Example]) -> Iterator[Row]:
        for ex in data:
            self.stats.total += 1
            good = verdict(ex)
            if good is None:
                self.drop("kto:no_verdict")
                continue
            prompt, completion = prompt_and_completion(ex, self.cfg)
            if not completion:
                self.drop("kto:empty_completion")
                continue
            self.stats.kept += 1
            yield {"prompt": prompt, "completion": completion, "label": good, "tools": tools_of(ex), **_meta(ex)}

    def _dpo(self, data: Iterable[Example]) -> Iterator[Row]:
        groups: dict[str, list[Example]] = defaultdict(list)
        for ex in data:
            self.stats.total += 1
            groups[pair_key(ex)].append(ex)  # same request: a gym task, or a prompt up to case and spacing
        for key in sorted(groups):
            group = groups[key]
            good = [e for e in group if verdict(e) is True]
            bad = [e for e in group if verdict(e) is False]
            if not good or not bad:
                for _ in group:
                    self.drop("dpo:no_counterpart" if (good or bad) else "dpo:no_verdict")
                continue
            used_good: set[str] = set()
            for i, rejected_ex in enumerate(bad):
                chosen_ex = good[i % len(good)]
                used_good.add(chosen_ex.id)
                prompt, chosen = prompt_and_completion(chosen_ex, self.cfg)
                _, rejected = prompt_and_completion(rejected_ex, self.cfg)
                if not chosen or not rejected:
                    self.drop("dpo:empty_completion")
                    continue
                self.stats.kept += 1
                self.stats.counters["pairs"] += 1
                yield {
                    "prompt": prompt, "chosen": chosen, "rejected": rejected,
                    "tools": tools_of(chosen_ex) + [t for t in tools_of(rejected_ex) if t not in tools_of(chosen_ex)],
                    "chosen_session_id": chosen_ex.session.id, "rejected_session_id": rejected_ex.session.id,
                    "chosen_tier": chosen_ex.tier, "rejected_tier": rejected_ex.tier,
                    "_groups": sorted({chosen_ex.root_id, rejected_ex.root_id}),
                    "_sessions": [chosen_ex.session.id, rejected_ex.session.id],
                }
            unused = [e for e in good if e.id not in used_good]
            for _ in unused:
                self.drop("dpo:unpaired_good")
