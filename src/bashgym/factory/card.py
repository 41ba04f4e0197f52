"""The dataset card (README.md): counts, sources, filters and what each dropped, redaction, licence.

Written beside the data and uploaded with it by `dataset push`. A build made with `--no-redact` says so at
the top of the card in words nobody can miss, and `push` refuses it.
"""

from __future__ import annotations

from typing import Any

import yaml

FORMAT_NOTES = {
    "messages": "OpenAI/TRL conversational: `messages` (with `tool_calls` whose `arguments` are objects, tool "
                "results as `tool` messages right after the call they answer) and `tools` (JSON-schema function "
                "specs). Loads straight into TRL's SFTTrainer; load the Parquet files or `hf/` (messages stored as "
                "`datasets.Json`), since `load_dataset(\"json\")` merges every tool's arguments into one struct.",
    "sharegpt": "ShareGPT `conversations` ({from, value}; function_call / observation turns) with `tools` "
                "as a JSON string (LLaMA-Factory convention).",
    "adp": "Agent Data Protocol trajectories (`content`: actions and observations).",
    "atif": "ATIF (Agent Trajectory Interchange Format) trajectories; subagent trajectories linked by "
            "`subagent_trajectory_ref` and included in `subagent_trajectories`. Tool arguments are objects.",
    "dpo": "Preference pairs `prompt` / `chosen` / `rejected` (conversational), for TRL's DPOTrainer.",
    "kto": "Unpaired preferences `prompt` / `completion` / `label` (bool), for TRL's KTOTrainer.",
}

UNREDACTED_WARNING = (
    "> **WARNING: THIS DATASET WAS BUILT WITH `--no-redact`. IT HAS NOT BEEN SCRUBBED OF SECRETS OR "
    "PERSONAL DATA. DO NOT PUBLISH OR SHARE IT.**"
)


def render_card(record: dict[str, Any]) -> str:
    """README.md text for a dataset record (as `Store.get_dataset` returns it, plus its build report)."""
    cfg = record.get("config") or {}
    counts = record.get("counts") or {}
    fmt = cfg.get("format", "messages")
    rows = counts.get("rows") or {}
    redacted = bool(record.get("redacted", True))
    front = {
        "license": cfg.get("license", "other"),
        "tags": ["bashgym", "agent-trajectories", "tool-use", fmt],
        "task_categories": ["text-generation"],
        "configs": [{"config_name": "default", "data_files": [
            {"split": s, "path": f"{s}.parquet"} for s in ("train", "validation", "test")]}],
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "", f"# {record['id']}", ""]
    if not redacted:
        lines += [UNREDACTED_WARNING, ""]
    lines += [
        f"Built by bashgym on {record.get('created_at', '')} from coding-agent sessions.",
        "",
        f"**Format:** `{fmt}` — {FORMAT_NOTES.get(fmt, '')}",
        "",
        "## Counts",
        "",
        "| split | rows |",
        "|---|---|",
        *[f"| {s} | {rows.get(s, 0)} |" for s in ("train", "validation", "test")],
        "",
        f"Sessions: {counts.get('sessions', 0)} · content hash `{record.get('content_hash', '')}`",
        "",
        "## Sources",
        "",
        *[f"- {src}: {n} sessions" for src, n in sorted((counts.get("sources") or {}).items())],
        "",
        "## Filters",
        "",
        "| step | in | kept | dropped (reason: count) |",
        "|---|---|---|---|",
    ]
    for st in counts.get("steps") or []:
        dropped = ", ".join(f"{k}: {v}" for k, v in (st.get("dropped") or {}).items()) or "—"
        lines.append(f"| {st['name']} | {st['total']} | {st['kept']} | {dropped} |")
    chosen = counts.get("selection") or {}
    if chosen:
        how = "the format's default: datasets follow the judge" if chosen.get("chosen_by") == "default" \
            else "asked for with --tier or dataset.yaml"
        lines += ["", "## Selection by quality", "",
                  f"Kept tiers: {', '.join(chosen.get('tiers') or []) or 'all'} ({how}). {chosen.get('rule', '')}.",
                  "A person's label wins over the judge's tier (bad → failed; tier=X → X; good → gold).", ""]
        excluded = chosen.get("excluded") or {}
        lines.append("Excluded by tier: " + (", ".join(f"{k} {v}" for k, v in excluded.items()) or "none") + ".")
        if chosen.get("flags"):
            lines.append("Judge flags on the excluded: " + ", ".join(f"{k} {v}" for k, v in chosen["flags"].items())
                         + ".")
    select = {k: v for k, v in (cfg.get("select") or {}).items() if v not in (None, [], 0)}
    lines += ["", "Selection: `" + (yaml.safe_dump(select, default_flow_style=True).strip() if select else "{}") + "`",
              f"Segmentation: `{(cfg.get('segment') or {}).get('mode', 'turn')}`; "
              f"tools: `{(cfg.get('shape') or {}).get('tools', 'native')}`", "", "## Redaction", ""]
    if redacted:
        report = counts.get("redaction") or {}
        kinds = report.get("counts") or report.get("by_kind") or {
            k: v for k, v in report.items() if isinstance(v, int)}
        lines.append("Secrets and personal data were replaced by placeholders (`<SECRET_1>`, `<EMAIL_1>`, "
                     "`/home/<USER>`), consistently across the dataset.")
        lines.append("")
        if kinds:
            lines += ["| kind | removed |", "|---|---|", *[f"| {k} | {v} |" for k, v in sorted(kinds.items())]]
        else:
            lines.append("Nothing was found to remove.")
        lines += ["", "Automated redaction misses things: review a sample before publishing."]
    else:
        lines += ["**Redaction was turned off (`--no-redact`).** Secrets, API keys, e-mail addresses, names "
                  "and home paths in these transcripts are present as captured."]
    lines += [
        "", "## Licence", "",
        f"Declared licence: `{cfg.get('license', 'other')}`. The transcripts are the user's own agent sessions; "
        "their tool outputs may quote third-party code and documents under their own licences, and the "
        "model outputs are subject to the agent provider's terms. Check both before redistributing.",
        "",
    ]
    return "\n".join(lines)
