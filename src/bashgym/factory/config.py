"""dataset.yaml: what to build, as pydantic models that reject unknown keys with a "did you mean".

Every field is documented once here (STYLE.md §14); `bashgym dataset build --config dataset.yaml` reads
it, flags override it, and the resolved config is stored with the dataset so a build can be repeated.

    name: my-bash-sft
    format: messages            # messages | sharegpt | adp | atif | dpo | kto
    select: {tiers: [gold, silver], sources: [claude_code]}
    segment: {mode: turn}       # turn | session | window
    shape: {tools: bash, max_output_chars: 8000}
    split: {train: 0.9, validation: 0.05, test: 0.05, seed: 0}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bashgym.errors import ConfigError, NotFoundError, choice_error, closest, did_you_mean, pydantic_message

FORMATS = ("messages", "sharegpt", "adp", "atif", "dpo", "kto")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SelectConfig(_Strict):
    """Which turns may become examples. Human labels win over the judge's scores."""

    tiers: list[Literal["gold", "silver", "bronze", "failed", "unscored"]] | None = Field(
        None, description="Keep examples whose effective tier (bashgym.quality: a person's label wins over the "
        "judge's) is listed. Unset: follow the judge (messages/sharegpt/adp/atif: gold, silver; dpo/kto: gold, "
        "silver, bronze, failed); `unscored` keeps never-judged examples.",
        examples=[["gold", "silver"]],
    )
    min_score: float | None = Field(None, description="Keep examples whose score is at least this.", examples=[0.75])
    labels: list[str] | None = Field(None, description="Keep only examples with one of these human labels.",
                                     examples=[["good"]])
    exclude_labels: list[str] = Field(
        default_factory=lambda: ["exclude"], description="Drop examples with one of these human labels."
    )
    scorer: str = Field("heuristic", description="Which judge's scores to read.")
    sources: list[str] | None = Field(None, description="Keep sessions from these sources (claude_code, gym…).",
                                      examples=[["claude_code", "gym"]])
    projects: list[str] | None = Field(None, description="Keep sessions whose project/cwd contains one of these.",
                                       examples=[["my-service"]])
    since: str | None = Field(None, description="Keep sessions started at or after this ISO date.",
                              examples=["2026-11-01"])
    until: str | None = Field(None, description="Keep sessions started before this ISO date.",
                              examples=["2026-12-01"])
    models: list[str] | None = Field(None, description="Keep sessions whose model name contains one of these.",
                                     examples=[["sonnet"]])
    tools: list[str] | None = Field(None, description="Keep examples that call at least one of these tools.",
                                    examples=[["Bash"]])
    min_tool_calls: int = Field(0, description="Keep examples with at least this many tool calls.")
    sessions: list[str] | None = Field(None, description="Only these session ids (or id prefixes).",
                                       examples=[["3f2a9c", "b71e"]])


class SegmentConfig(_Strict):
    """How sessions are cut into examples."""

    mode: Literal["turn", "session", "window"] = Field(
        "turn", description="turn: one user turn and its trajectory; session: whole sessions; window: "
        "consecutive turns packed under max_tokens."
    )
    max_tokens: int = Field(4096, description="Token budget per window (mode=window).")
    overlap_turns: int = Field(0, description="Turns a window shares with the one before it (mode=window).")
    tokenizer: str | None = Field(
        None, description="Tokenizer name or local path for token counts; default ~4 characters a token.",
        examples=["./models/tiny"],
    )
    subagents: Literal["attach", "split", "drop"] = Field(
        "attach", description="attach: subagent sessions travel with the example that spawned them; "
        "split: they become examples of their own (same split side as the parent); drop: left out."
    )
    min_steps: int = Field(1, description="Drop examples with fewer steps than this.")


class RedactConfig(_Strict):
    enabled: bool = Field(True, description="Redact secrets and personal data (turn off only with --no-redact).")
    user_names: list[str] = Field(default_factory=list, description="Extra names to replace (yours, colleagues').")
    extra_patterns: list[str] = Field(default_factory=list, description="Extra regexes whose matches are removed.")


class DedupConfig(_Strict):
    exact: bool = Field(True, description="Drop examples whose normalised text was already seen.")
    near: bool = Field(True, description="Drop near-duplicates (MinHash LSH).")
    threshold: float = Field(0.85, description="Estimated Jaccard similarity above which two are near-duplicates.")
    num_perm: int = Field(128, description="MinHash permutations.")
    shingle: int = Field(5, description="Word n-gram size of the shingles.")


class DecontaminateConfig(_Strict):
    enabled: bool = Field(True, description="Drop examples that overlap the gym/eval task suite.")
    suite: str = Field("builtin", description="Task suite name or path.")
    ngram: int = Field(8, description="Word n-gram size compared.")
    threshold: float = Field(0.5, description="Drop when this fraction of a task's n-grams occurs in an example.")
    solutions: bool = Field(True, description="Also match the tasks' reference solutions. Turn off for generated "
                            "task families, whose instances share one procedure: each instance's instruction "
                            "holds its own names, so instances stay apart.")


class ShapeConfig(_Strict):
    tools: Literal["native", "bash"] = Field(
        "native", description="native: keep each agent's tools; bash: edits and reads become shell commands."
    )
    unconvertible: Literal["keep", "drop_step", "drop_example"] = Field(
        "drop_step", description="In bash mode, what to do with a tool that has no shell equivalent."
    )
    max_output_chars: int = Field(8000, description="Tool outputs longer than this keep their head and tail.")
    head_fraction: float = Field(0.5, description="Share of max_output_chars kept from the head.")
    include_thinking: bool = Field(False, description="Keep the agent's thinking text in assistant messages.")
    system_prompt: str | None = Field(None, description="A system message put first in every example.",
                                      examples=["You are a careful shell agent."])


class SplitConfig(_Strict):
    """Fractions by session (a session's examples stay on one side), summing to 1."""

    train: float = Field(0.9, description="Share of sessions whose examples go to the train split.")
    validation: float = Field(0.05, description="Share of sessions in the validation split.")
    test: float = Field(0.05, description="Share of sessions in the test split.")
    seed: int = Field(0, description="Seed of the session shuffle: the same seed gives the same split.")

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1 (train+validation+test = {total:g})")
        return self


class WriteConfig(_Strict):
    """Which files each split is written as."""

    jsonl: bool = Field(True, description="Write <split>.jsonl.")
    parquet: bool = Field(True, description="Write <split>.parquet.")
    hf: bool = Field(True, description="Also save a datasets.DatasetDict with save_to_disk under hf/.")


class DatasetConfig(_Strict):
    """A whole dataset.yaml. `segment: window` is short for `segment: {mode: window}`, as `--segment window`."""

    name: str = Field("bashgym", description="Dataset name; the id is ds-<name>-v<N>.")
    format: Literal["messages", "sharegpt", "adp", "atif", "dpo", "kto"] = Field(
        "messages", description="The one format this build writes (build again for another).")
    license: str = Field("other", description="Licence written into the dataset card.")
    select: SelectConfig = Field(default_factory=SelectConfig)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    redact: RedactConfig = Field(default_factory=RedactConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontaminate: DecontaminateConfig = Field(default_factory=DecontaminateConfig)
    shape: ShapeConfig = Field(default_factory=ShapeConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    write: WriteConfig = Field(default_factory=WriteConfig)

    @model_validator(mode="before")
    @classmethod
    def _segment_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("segment"), str):
            data = {**data, "segment": {"mode": data["segment"]}}
        return data


_SECTIONS: dict[str, type[BaseModel]] = {
    "select": SelectConfig, "segment": SegmentConfig, "redact": RedactConfig, "dedup": DedupConfig,
    "decontaminate": DecontaminateConfig, "shape": ShapeConfig, "split": SplitConfig, "write": WriteConfig,
}


def literal_choices(model: type[BaseModel], name: str) -> list[str]:
    """The allowed values of a Literal field (or a list of Literals): what error messages list."""
    annotation = model.model_fields[name].annotation
    while get_origin(annotation) is not Literal and get_args(annotation):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return [str(a) for a in get_args(annotation)]


def _unknown_key(loc: list[str], where: str) -> ConfigError:
    """Unknown key: suggest the closest key at its level, or the section that has it (`tier` → `select.tiers`)."""
    key = loc[-1]
    parent: type[BaseModel] = _SECTIONS.get(loc[0], DatasetConfig) if len(loc) > 1 else DatasetConfig
    section = f"{where} ({'.'.join(loc[:-1])})" if len(loc) > 1 else where
    hint = did_you_mean(key, parent.model_fields)
    if not hint and len(loc) == 1:
        by_leaf = {field: f"{name}.{field}" for name, model in _SECTIONS.items() for field in model.model_fields}
        match = closest(key, by_leaf)
        if match:
            hint = f' (did you mean "{by_leaf[match]}"?)'
    return ConfigError(f"unknown key {key!r} in {section}{hint}; valid keys: {', '.join(parent.model_fields)}")


def parse_config(data: dict[str, Any] | None, where: str = "dataset config") -> DatasetConfig:
    """Validate a config mapping: unknown keys suggest the closest key, bad values say what was expected."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return DatasetConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        if err["type"] == "extra_forbidden":
            raise _unknown_key(loc, where) from None
        if err["type"] in ("model_type", "dict_type") and loc and loc[-1] in _SECTIONS:
            keys = ", ".join(_SECTIONS[loc[-1]].model_fields)
            raise ConfigError(f"{loc[-1]}: got {err['input']!r}, expected a mapping with keys {keys} "
                              f"(in {where})") from None
        raise ConfigError(pydantic_message(exc, where)) from None


def set_flag(section: BaseModel, name: str, value: Any, flag: str) -> None:
    """Assign a flag's value to a config field, or say "--flag: got X, expected one of ..."."""
    choices = literal_choices(type(section), name)
    values = value if isinstance(value, list) else [value]
    for v in values:
        if choices and v not in choices:
            raise choice_error(flag, v, choices)
    try:
        setattr(section, name, value)
    except ValidationError as exc:
        raise ConfigError(pydantic_message(exc, prefix=f"{flag} ")) from None


def load_config(path: Path | None) -> DatasetConfig:
    """Read dataset.yaml (or defaults when no path is given)."""
    if path is None:
        return DatasetConfig()
    if not path.exists():
        raise NotFoundError(f"no config file {path} (write one, or leave out --config for the defaults)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, str(path))
