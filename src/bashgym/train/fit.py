"""Make every training example fit `max_length` before TRL sees it, and say which ones did not.

TRL cuts a long example at the token limit (mid-message, often through the final reply) and drops those
left with nothing to learn, silently. Here an example that is too long is cut at a message boundary instead:
the longest run of whole messages that fits and ends with an assistant message (so the last reply kept is
complete); one whose first reply does not fit is dropped. Both are reported by count and id, and the
run records them. Preference rows cut each completion the same way; plain `text` rows cannot be cut by
message and are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

ID_COLUMNS = ("example_id", "id")


@dataclass
class FitReport:
    """What `fit_dataset` did to one split: ids of the examples cut to whole messages and of those dropped."""

    max_length: int | None
    total: int = 0
    truncated: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.total - len(self.dropped)

    def to_dict(self) -> dict[str, Any]:
        return {"max_length": self.max_length, "total": self.total, "kept": self.kept,
                "truncated": self.truncated, "dropped": self.dropped}

    def describe(self, split: str) -> str | None:
        """One line for the user, or None when everything fit."""
        if not (self.truncated or self.dropped):
            return None
        parts = []
        if self.truncated:
            parts.append(f"{len(self.truncated)} cut to whole messages ({_ids(self.truncated)})")
        if self.dropped:
            parts.append(f"{len(self.dropped)} dropped, not even the first reply fits ({_ids(self.dropped)})")
        return (f"{split}: {len(self.truncated) + len(self.dropped)} of {self.total} examples longer than "
                f"max_length {self.max_length}: {'; '.join(parts)}")


def _ids(ids: list[str], shown: int = 5) -> str:
    return ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def example_id(row: dict[str, Any], index: int) -> str:
    """The id a report names an example by: its own id column, else session and turn, else its row number."""
    for key in ID_COLUMNS:
        if row.get(key):
            return str(row[key])
    if row.get("session_id"):
        return f"{row['session_id']}#{row.get('turn_idx', 0)}"
    return f"row {index + 1}"


def _tools(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = row.get("tools")
    if isinstance(tools, str):
        tools = orjson.loads(tools) if tools.strip() else None
    return tools or None


def conversation_length(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    """Tokens of `messages` rendered by the chat template, exactly as TRL tokenizes a conversation."""
    return len(tokenizer.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=True)["input_ids"])


def longest_fitting_prefix(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                           max_length: int, start: int = 0) -> int | None:
    """The largest k such that messages[:k] fits and messages[k-1] is an assistant message at or after `start`
    (the first message a completion may end on); None when no such cut fits."""
    cuts = [k for k in range(len(messages), start, -1) if messages[k - 1].get("role") == "assistant"]
    for k in cuts:  # longest first: most examples that are over are over by a little
        if conversation_length(tokenizer, messages[:k], tools) <= max_length:
            return k
    return None


def _fit_row(row: dict[str, Any], tokenizer: Any, max_length: int) -> tuple[dict[str, Any] | None, bool]:
    """(the row cut to fit or None to drop it, whether it was cut)."""
    tools = _tools(row)
    if "messages" in row:
        messages = row["messages"]
        if conversation_length(tokenizer, messages, tools) <= max_length:
            return row, False
        k = longest_fitting_prefix(tokenizer, messages, tools, max_length)
        return ({**row, "messages": messages[:k]}, True) if k else (None, False)
    if "prompt" in row and isinstance(row["prompt"], list):
        prompt = row["prompt"]
        keys = [key for key in ("chosen", "rejected", "completion") if isinstance(row.get(key), list)]
        out, cut = dict(row), False
        for key in keys:
            full = prompt + row[key]
            if conversation_length(tokenizer, full, tools) <= max_length:
                continue
            k = longest_fitting_prefix(tokenizer, full, tools, max_length, start=len(prompt))
            if k is None:
                return None, False
            out[key], cut = full[len(prompt):k], True
        return out, cut
    text = row.get("text") if isinstance(row.get("text"), str) else None
    if text is None:  # prompt/completion as plain strings: TRL's own truncation, reported by length
        text = str(row.get("prompt") or "") + str(row.get("completion") or "")
    return (row, False) if len(tokenizer(text)["input_ids"]) <= max_length else (None, False)


def fit_dataset(ds: Any, tokenizer: Any, max_length: int | None) -> tuple[Any, FitReport]:
    """`ds` with every example fitting `max_length` (see the module docstring), and what was done."""
    report = FitReport(max_length=max_length, total=len(ds))
    if max_length is None or len(ds) == 0:
        return ds, report
    from datasets import Dataset

    rows, changed = [], False
    for i, row in enumerate(ds):
        fitted, cut = _fit_row(row, tokenizer, max_length)
        if fitted is None:
            report.dropped.append(example_id(row, i))
            changed = True
            continue
        if cut:
            report.truncated.append(example_id(row, i))
            changed = True
        rows.append(fitted)
    if not changed:
        return ds, report
    return Dataset.from_list(rows, features=ds.features) if rows else ds.select([]), report
