"""Lint training rows: what a trainer would silently learn wrong, found before it trains.

`bashgym dataset check DATASET` runs it on a built dataset, and every build runs it on its rows. Each format's
rows are read as a list of chat messages (`as_messages`), so one set of rules covers them all:

| rule | severity | what |
| --- | --- | --- |
| `duplicate_message` | error | a message repeats the one before it (same role and content) |
| `empty_assistant` | error | an assistant message with no text, no reasoning and no tool call |
| `unpaired_tool_call` | error | a call that no result answers |
| `unpaired_tool_result` | error | a result that answers no earlier call |
| `non_string_content` | error | a message's content, or a call's name, is not a string |
| `leftover_secret` | error | the redactor still finds a secret or personal value (a warning in a dataset built with --no-redact) |
| `over_length` | warning | the example has more tokens than the configured length (`segment.max_tokens`) |

Findings name the split, the row (1-based line of its JSONL file), its example id and where in the row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

ERROR, WARNING = "error", "warning"
RULES = {"duplicate_message": ERROR, "empty_assistant": ERROR, "unpaired_tool_call": ERROR,
         "unpaired_tool_result": ERROR, "non_string_content": ERROR, "leftover_secret": ERROR,
         "over_length": WARNING}
MAX_LISTED = 50  # findings listed per rule (all are counted)


@dataclass
class Msg:
    """A row's message as the linter sees it; `calls` are (id or None, name); `answers` the call id a
    result answers (None: the next unanswered call, for formats without ids)."""

    role: str
    content: Any
    where: str
    calls: list[tuple[str | None, Any]] = field(default_factory=list)
    answers: str | None = None
    reasoning: Any = None
    call_key: Any = None  # a call's whole record, for formats whose calls carry no id

    def key(self) -> tuple[Any, ...]:
        return (self.content, self.calls, self.call_key)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _openai(messages: Any, where: str) -> list[Msg]:
    out = []
    for i, m in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(m, dict):
            out.append(Msg("?", m, f"{where}[{i}]"))
            continue
        calls = [(c.get("id"), (c.get("function") or {}).get("name")) for c in m.get("tool_calls") or []
                 if isinstance(c, dict)]
        out.append(Msg(str(m.get("role")), m.get("content"), f"{where}[{i}]", calls,
                       m.get("tool_call_id") if m.get("role") == "tool" else None, m.get("reasoning_content")))
    return out


def _sharegpt(row: dict[str, Any]) -> list[list[Msg]]:
    out = []
    for i, turn in enumerate(row.get("conversations") or []):
        who, value, where = str(turn.get("from")), turn.get("value"), f"conversations[{i}]"
        if who == "function_call":
            name = orjson.loads(value).get("name") if isinstance(value, str) and value.startswith("{") else None
            out.append(Msg("assistant", "", where, [(None, name)], call_key=value))
        elif who == "observation":
            out.append(Msg("tool", value, where))
        else:
            out.append(Msg({"human": "user", "gpt": "assistant"}.get(who, who), value, where))
    return [out]


def _adp(row: dict[str, Any]) -> list[list[Msg]]:
    out = []
    for i, item in enumerate(row.get("content") or []):
        cls, where = item.get("class_"), f"content[{i}]"
        if cls == "text_observation":
            user = item.get("source") == "user"
            out.append(Msg("user" if user else "tool", item.get("content"), where))
        elif cls == "message_action":
            out.append(Msg("assistant", item.get("content"), where, reasoning=item.get("description")))
        elif cls in ("api_action", "code_action"):
            name = item.get("function") if cls == "api_action" else "bash"
            out.append(Msg("assistant", "", where, [(None, name)], call_key=orjson.dumps(item, default=str)))
    return [out]


def _atif_steps(traj: dict[str, Any], prefix: str) -> list[Msg]:
    out = []
    for i, st in enumerate(traj.get("steps") or []):
        where = f"{prefix}steps[{i}]"
        if st.get("source") != "agent":
            out.append(Msg(str(st.get("source")), st.get("message"), where))
            continue
        calls = [(c.get("tool_call_id"), c.get("function_name")) for c in st.get("tool_calls") or []]
        out.append(Msg("assistant", st.get("message"), where, calls, reasoning=st.get("reasoning_content")))
        for j, res in enumerate((st.get("observation") or {}).get("results") or []):
            out.append(Msg("tool", res.get("content"), f"{where}.observation.results[{j}]",
                           answers=res.get("source_call_id") or ""))
    return out


def _atif(row: dict[str, Any]) -> list[list[Msg]]:
    subs = [_atif_steps(t, f"subagent_trajectories[{k}].") for k, t in enumerate(row.get("subagent_trajectories") or [])]
    return [_atif_steps(row, ""), *subs]


def as_messages(row: dict[str, Any], fmt: str) -> list[list[Msg]]:
    """The row's conversations (several for DPO's chosen/rejected or ATIF's subagents) as message lists."""
    if fmt == "sharegpt":
        return _sharegpt(row)
    if fmt == "adp":
        return _adp(row)
    if fmt == "atif":
        return _atif(row)
    if fmt == "dpo":
        prompt = _openai(row.get("prompt"), "prompt")
        return [prompt + _openai(row.get(k), k) for k in ("chosen", "rejected")]
    if fmt == "kto":
        return [_openai(row.get("prompt"), "prompt") + _openai(row.get("completion"), "completion")]
    return [_openai(row.get("messages"), "messages")]


def conversation_findings(msgs: list[Msg]) -> list[tuple[str, str, str]]:
    """(rule, where, message) for one conversation's structural problems."""
    found: list[tuple[str, str, str]] = []
    prev: Msg | None = None
    open_calls: list[str | None] = []
    known: set[str] = set()
    for m in msgs:
        if not isinstance(m.content, str) and not (m.content is None and m.calls):
            found.append(("non_string_content", m.where, f"{m.role} content is {type(m.content).__name__}, not a string"))
        for _, name in m.calls:
            if not isinstance(name, str) or not name:
                found.append(("non_string_content", m.where, f"a tool call's name is {name!r}"))
        if m.role == "assistant" and not m.calls and _blank(m.content) and _blank(m.reasoning):
            found.append(("empty_assistant", m.where, "assistant message with no text, reasoning or tool call"))
        if prev is not None and m.role == prev.role and m.role != "tool" and m.key() == prev.key() \
                and (m.content or m.calls):
            found.append(("duplicate_message", m.where, f"repeats the {m.role} message before it: "
                          f"{str(m.content)[:60]!r}"))
        if m.role == "tool":
            if m.answers:  # a result naming its call
                if m.answers in open_calls:
                    open_calls.remove(m.answers)
                else:
                    why = "answered twice" if m.answers in known else "no earlier call has this id"
                    found.append(("unpaired_tool_result", m.where, f"result for {m.answers!r}: {why}"))
            elif open_calls:
                open_calls.pop(0)
            else:
                found.append(("unpaired_tool_result", m.where, "a tool result with no call before it"))
        else:
            if open_calls and m.role in ("user", "assistant"):
                for cid in open_calls:
                    found.append(("unpaired_tool_call", m.where, f"call {cid or '(no id)'} has no result before this {m.role} message"))
                open_calls = []
            for cid, _ in m.calls:
                open_calls.append(cid)
                if cid:
                    known.add(cid)
        prev = m
    for cid in open_calls:
        found.append(("unpaired_tool_call", msgs[-1].where if msgs else "", f"call {cid or '(no id)'} has no result"))
    return found


def _row_text(msgs: list[Msg]) -> str:
    return "\n".join(m.content if isinstance(m.content, str) else orjson.dumps(m.content, default=str).decode()
                     for m in msgs)


@dataclass
class LintReport:
    """Counts per rule and the first findings of each, for a dataset's rows."""

    rows: int = 0
    counts: Counter = field(default_factory=Counter)
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(n for rule, n in self.counts.items() if severity(rule) == ERROR)

    @property
    def warnings(self) -> int:
        return sum(n for rule, n in self.counts.items() if severity(rule) == WARNING)

    def add(self, rule: str, *, split: str, row: int, example_id: Any, where: str, message: str,
            level: str | None = None) -> None:
        key = rule if level is None or level == RULES[rule] else f"{rule}:{level}"
        self.counts[key] += 1
        if sum(1 for f in self.findings if f["rule"] == key) < MAX_LISTED:
            self.findings.append({"rule": key, "severity": severity(key), "split": split, "row": row,
                                  "example_id": example_id, "where": where, "message": message})

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "errors": self.errors, "warnings": self.warnings,
                "counts": dict(sorted(self.counts.items())), "findings": self.findings}


def severity(rule: str) -> str:
    """A rule's severity; `rule:warning` marks a rule demoted for this dataset (secrets with --no-redact)."""
    return WARNING if rule.endswith(":warning") else RULES.get(rule, ERROR)


Leftover = dict[tuple[str, int], list[tuple[str, str]]]


def lint_rows(splits: dict[str, Iterable[dict[str, Any]]], fmt: str, *, max_tokens: int | None = None,
              count_tokens: Callable[[str], int] | None = None, redactor: Any = None,
              redacted: bool = True, leftover: Leftover | None = None) -> LintReport:
    """Lint every row of every split. `redactor`: a fresh Redactor (as the build configured it) to look for
    values it would still remove; `redacted=False` (a --no-redact build) makes those warnings. `leftover`:
    those values already looked for (a build does it in its shards, `leftover_secrets`), by (split, row
    number); rows missing from it had none, and `redactor` is then not used."""
    report = LintReport()
    for split, rows in splits.items():
        for n, row in enumerate(rows, 1):
            report.rows += 1
            ex = row.get("example_id") or row.get("id") or row.get("chosen_session_id")
            convs = as_messages(row, fmt)
            for msgs in convs:
                for rule, where, message in conversation_findings(msgs):
                    report.add(rule, split=split, row=n, example_id=ex, where=where, message=message)
            if max_tokens and count_tokens is not None:
                tokens = max((count_tokens(_row_text(m)) for m in convs), default=0)
                if tokens > max_tokens:
                    report.add("over_length", split=split, row=n, example_id=ex, where="",
                               message=f"about {tokens} tokens, over the configured {max_tokens}")
            found = leftover.get((split, n), []) if leftover is not None else (
                leftover_secrets(row, redactor) if redactor is not None else [])
            for kind, where in found:
                report.add("leftover_secret", split=split, row=n, example_id=ex, where=where,
                           message=f"{kind} still in the row", level=None if redacted else WARNING)
    return report


def leftover_secrets(row: dict[str, Any], redactor: Any) -> list[tuple[str, str]]:
    """(kind, where in the row) for each value `redactor` would still remove from the row's public part
    ("value", "" for each one past the redactor's cap on listed findings, counted per row, so the answer for a
    row does not depend on the rows looked at before it, or on which process looked). Placeholders,
    provisional or numbered, are not values: a build's shards look before the build numbers them."""
    listed, counts = len(redactor.findings), Counter(redactor.counts)
    redactor.redact_obj({k: v for k, v in row.items() if not k.startswith("_")})
    new = redactor.findings[listed:]
    unlisted = sum(redactor.counts.values()) - sum(counts.values()) - len(new)  # past the redactor's own cap
    del redactor.findings[listed:]
    redactor.counts = counts
    return [(f.kind, f.location.removeprefix("$.")) for f in new] + [("value", "")] * unlisted


def lint_config(config: dict[str, Any], redacted: bool, *, redactor: bool = True) -> dict[str, Any]:
    """The linter's settings for a dataset built with `config` (its recorded config): the token length and
    counter of its segmenting, and a fresh redactor configured as its build's (none when `redactor` is
    false: the build looked for leftover values already)."""
    from bashgym.factory.apply_redaction import make_redactor
    from bashgym.factory.segment import token_counter

    seg = config.get("segment") or {}
    red = config.get("redact") or {}
    return {"max_tokens": seg.get("max_tokens"), "count_tokens": token_counter(seg.get("tokenizer")),
            "redactor": make_redactor(red.get("user_names") or [], red.get("extra_patterns") or [])
            if redactor else None, "redacted": redacted}


def read_split_rows(path: Any, split: str) -> list[dict[str, Any]]:
    """A written split's rows: its JSONL file, else its Parquet file; [] when neither was written."""
    from pathlib import Path

    jsonl, parquet = Path(path) / f"{split}.jsonl", Path(path) / f"{split}.parquet"
    if jsonl.is_file():
        return [orjson.loads(line) for line in jsonl.read_bytes().splitlines() if line.strip()]
    if parquet.is_file():
        from datasets import Dataset

        return list(Dataset.from_parquet(str(parquet)))
    return []


def lint_dataset(record: dict[str, Any]) -> LintReport:
    """Lint a built dataset's written rows, with the settings of the build that wrote them."""
    from bashgym.factory.split import SPLITS

    config = record.get("config") or {}
    splits = {s: read_split_rows(record["path"], s) for s in SPLITS}
    return lint_rows(splits, config.get("format", "messages"), **lint_config(config, bool(record.get("redacted"))))
