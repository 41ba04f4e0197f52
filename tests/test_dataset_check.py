"""`bashgym dataset check` and the lint every build runs: each rule on a row that breaks it (the finding
names the rule, the row and where), the CLI's exit codes, and outdated datasets found and rebuilt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bashgym.factory.lint import lint_rows
from bashgym.schema import Step
from bashgym.store import Store
from factory_sessions import bash, save, say, session

pytest.importorskip("datasets")

SECRET = "sk-ant-api03-" + "Q7vK" * 20
JSONL_ONLY = "write: {parquet: false, hf: false}\n"  # the CLI tests need the rows, not the Arrow copies


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def call(cid: str, name: str = "bash", **args: Any) -> dict[str, Any]:
    return {"type": "function", "id": cid, "function": {"name": name, "arguments": args or {"command": "ls"}}}


def msgs(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": list(messages), "example_id": "ex-1"}


U = {"role": "user", "content": "Count the files"}
A_CALL = {"role": "assistant", "content": "", "tool_calls": [call("c1")]}
T1 = {"role": "tool", "tool_call_id": "c1", "name": "bash", "content": "2"}
A_END = {"role": "assistant", "content": "There are 2."}

# rule → (format, a row that breaks only that rule, where the finding points)
BAD_ROWS: dict[str, tuple[str, dict[str, Any], str]] = {
    "duplicate_message": ("messages", msgs(U, U, A_CALL, T1, A_END), "messages[1]"),
    "empty_assistant": ("messages", msgs(U, A_CALL, T1, {"role": "assistant", "content": " "}), "messages[3]"),
    "unpaired_tool_call": ("messages", msgs(U, A_CALL, A_END), "messages[2]"),
    "unpaired_tool_result": ("messages", msgs(U, A_CALL, T1, {**T1, "tool_call_id": "c9"}, A_END), "messages[3]"),
    "non_string_content": ("messages", msgs(U, A_CALL, {**T1, "content": ["2"]}, A_END), "messages[2]"),
    "leftover_secret": ("messages", msgs(U, A_CALL, {**T1, "content": f"KEY={SECRET}"}, A_END), "messages[2]"),
}


def _lint(fmt: str, row: dict[str, Any], **kw: Any):
    from bashgym.factory.apply_redaction import make_redactor

    return lint_rows({"train": [row]}, fmt, redactor=make_redactor(), **kw)


def test_a_clean_row_has_no_findings() -> None:
    report = _lint("messages", msgs(U, A_CALL, T1, A_END))
    assert (report.errors, report.warnings, report.findings) == (0, 0, [])


@pytest.mark.parametrize("rule", list(BAD_ROWS))
def test_each_rule_names_the_row_and_where(rule: str) -> None:
    fmt, row, where = BAD_ROWS[rule]
    report = _lint(fmt, row)
    assert dict(report.counts) == {rule: 1}, report.findings
    finding = report.findings[0]
    assert (finding["rule"], finding["severity"], finding["split"], finding["row"], finding["example_id"]) == (
        rule, "error", "train", 1, "ex-1")
    assert finding["where"].startswith(where)


def test_over_length_is_a_warning_with_the_token_count() -> None:
    report = _lint("messages", msgs(U, A_CALL, T1, {"role": "assistant", "content": "word " * 400}),
                   max_tokens=100, count_tokens=lambda text: len(text) // 4)
    assert dict(report.counts) == {"over_length": 1} and report.errors == 0 and report.warnings == 1
    assert "over the configured 100" in report.findings[0]["message"]


def test_secrets_in_a_no_redact_dataset_are_warnings() -> None:
    _, row, _ = BAD_ROWS["leftover_secret"]
    report = _lint("messages", row, redacted=False)
    assert report.errors == 0 and report.warnings == 1


@pytest.mark.parametrize("fmt,row,rule", [
    ("sharegpt", {"conversations": [{"from": "human", "value": "hi"}, {"from": "human", "value": "hi"},
                                    {"from": "gpt", "value": "ok"}]}, "duplicate_message"),
    ("sharegpt", {"conversations": [{"from": "human", "value": "hi"},
                                    {"from": "function_call", "value": '{"name": "bash", "arguments": {}}'},
                                    {"from": "gpt", "value": "ok"}]}, "unpaired_tool_call"),
    ("adp", {"content": [{"class_": "text_observation", "source": "user", "content": "hi"},
                         {"class_": "text_observation", "source": "environment", "content": "out"}]},
     "unpaired_tool_result"),
    ("atif", {"steps": [{"source": "user", "message": "hi"},
                        {"source": "agent", "message": "", "tool_calls": [
                            {"tool_call_id": "a", "function_name": "bash", "arguments": {}}],
                         "observation": {"results": [{"source_call_id": "b", "content": "x"}]}}]},
     "unpaired_tool_result"),
    ("dpo", {"prompt": [U], "chosen": [A_CALL, T1, A_END], "rejected": [{"role": "assistant", "content": ""}]},
     "empty_assistant"),
], ids=["sharegpt-dup", "sharegpt-call", "adp-result", "atif-result", "dpo-empty"])
def test_every_format_is_linted(fmt: str, row: dict[str, Any], rule: str) -> None:
    assert rule in _lint(fmt, row).counts


# ------------------------------------------------------------------------------------------------- CLI

@pytest.fixture()
def sessions(store: Store) -> Store:
    save(store, session("ok", [("Count the lines of a.log", [say("Counting."), bash("wc -l a.log", "3 a.log"),
                                                              say("3 lines.")])]),
         # the user sent the same words twice before the agent answered: two user messages in a row
         session("twice", [("Fix the build please", []),
                           ("Fix the build please", [bash("make", "ok"), say("Fixed.")])]))
    return store


def test_build_lints_its_rows_and_fails_on_errors_unless_allowed(sessions: Store, tmp_path: Path) -> None:
    config = tmp_path / "d.yaml"
    config.write_text(f"name: lint\nsegment: {{mode: session}}\nselect: {{sessions: [twice], tiers: [unscored]}}\n{JSONL_ONLY}")
    out = cli("dataset", "build", "--config", str(config))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "lint: 1 errors" in out.stdout and "duplicate_message 1" in out.stdout
    assert "lint errors in ds-lint-v1 (1)" in out.stderr and "bashgym dataset check ds-lint-v1" in out.stderr
    stats = json.loads((sessions.path.parent / "datasets" / "ds-lint-v1" / "stats.json").read_text())
    assert stats["lint"]["counts"] == {"duplicate_message": 1} and stats["rows_version"] >= 2
    checked = cli("dataset", "check", "ds-lint-v1", "--json")
    assert checked.returncode == 1
    report = json.loads(checked.stdout)
    assert report["counts"] == {"duplicate_message": 1}
    assert report["findings"][0]["where"] == "messages[1]" and report["findings"][0]["split"] == "train"
    assert cli("dataset", "check", "ds-lint-v1", "--allow-lint-errors").returncode == 0
    ok = cli("dataset", "build", "--config", str(config), "--allow-lint-errors")
    assert ok.returncode == 0 and "allowed by --allow-lint-errors" in ok.stderr


def only_ok(tmp_path: Path, name: str) -> str:
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"name: {name}\nsegment: {{mode: session}}\nselect: {{sessions: [ok], tiers: [unscored]}}\n{JSONL_ONLY}")
    return str(config)


def test_check_finds_what_was_written_into_a_dataset_after_its_build(sessions: Store, tmp_path: Path) -> None:
    out = cli("dataset", "build", "--config", only_ok(tmp_path, "clean"))
    assert out.returncode == 0, out.stderr
    assert "lint: 0 errors, 0 warnings" in out.stdout
    # hand-built sessions carry no message ids, like sessions stored before importers recorded them
    assert "1 example(s) come from sessions stored before" in out.stdout and "--rederive" in out.stdout
    path = sessions.path.parent / "datasets" / "ds-clean-v1" / "train.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["messages"].insert(1, dict(rows[0]["messages"][0]))  # the prompt repeated, as before the fix
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    checked = cli("dataset", "check", "clean")
    assert checked.returncode == 1
    assert "duplicate_message" in checked.stdout and "train.jsonl row 1" in checked.stdout


def test_list_flags_datasets_built_before_the_fix_and_rebuild_outdated_makes_current_ones(
        sessions: Store, tmp_path: Path) -> None:
    assert cli("dataset", "build", "--config", only_ok(tmp_path, "old")).returncode == 0
    record = sessions.get_dataset("ds-old-v1")
    # the same dataset as a build from before rows were versioned recorded it: stats.json a bare list
    old_dir = tmp_path / "ds-older-v1"
    old_dir.mkdir()
    (old_dir / "stats.json").write_text(json.dumps(record["counts"]["steps"]))
    counts = {k: v for k, v in record["counts"].items() if k not in ("rows_version", "lint")}
    config = {**record["config"], "name": "older"}
    sessions.add_dataset("ds-older-v1", name="older", version=1, path=str(old_dir), config=config, counts=counts,
                         content_hash="x", redacted=True, session_ids=["ok"])
    listed = {d["id"]: d for d in json.loads(cli("dataset", "list", "--json").stdout)}
    assert (listed["ds-older-v1"]["outdated"], listed["ds-older-v1"]["rows_version"]) == (True, 1)
    assert listed["ds-old-v1"]["outdated"] is False
    text = cli("dataset", "list").stdout
    assert "OUTDATED" in text and "bashgym dataset rebuild --outdated" in text
    out = cli("dataset", "rebuild", "--outdated")
    assert out.returncode == 0, out.stderr
    assert "rebuilt ds-older-v1 → ds-older-v2" in out.stdout and "ds-old-v1" not in out.stdout
    listed = {d["id"]: d for d in json.loads(cli("dataset", "list", "--json").stdout)}
    assert listed["ds-older-v2"]["outdated"] is False
    assert cli("dataset", "rebuild", "--outdated").stdout.strip() == "nothing to rebuild: every dataset is current"


def test_rebuild_needs_datasets_or_outdated(sessions: Store) -> None:
    out = cli("dataset", "rebuild")
    assert out.returncode != 0 and "--outdated" in out.stderr


def test_a_tool_call_without_result_in_a_session_still_makes_paired_rows(store: Store) -> None:
    """A session that died mid-call: the row pairs the call with an empty result instead of leaving it open."""
    from bashgym.factory.build import run_pipeline
    from bashgym.factory.config import DatasetConfig

    dead = Step(kind="tool_call", tool_name="Bash", call_id="d1", input={"command": "sleep 9"}, output=None,
                meta={"no_result": True})
    save(store, session("died", [("Wait a while", [say("Waiting."), dead])]))
    rows, _ = run_pipeline(store, DatasetConfig(name="d", segment={"mode": "session"}), redact=False)
    assert lint_rows({"train": rows}, "messages").errors == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_a_builds_lint_finds_what_dataset_check_finds_in_its_files(store: Store, workers: int) -> None:
    """The build looks for leftover values in its shards, before placeholders are numbered and before the rows
    have a split and a row number; `dataset check` looks in the written files. Same findings, row for row."""
    from bashgym.factory.build import build_dataset
    from bashgym.factory.config import DatasetConfig
    from bashgym.factory.lint import lint_dataset
    from factory_sessions import save_many

    save_many(store)
    split = {"train": 0.05, "validation": 0.05, "test": 0.9}  # findings listed in each (50 a rule at most)
    cfg = DatasetConfig(name="raw", select={"tiers": ["unscored", "gold"]}, split=split,
                        write={"parquet": False, "hf": False})
    raw = build_dataset(store, cfg, redact=False, workers=workers)  # every secret is still there: warnings
    built = json.loads((Path(raw["path"]) / "lint.json").read_text())
    assert built == lint_dataset(raw).to_dict()
    warned = [f for f in built["findings"] if f["rule"] == "leftover_secret:warning"]
    assert {f["split"] for f in warned} == {"train", "validation", "test"} and built["errors"] == 0
    rows = {s: (Path(raw["path"]) / f"{s}.jsonl").read_text().splitlines() for s in split}
    for f in warned:  # each finding points at a row that has it
        assert json.loads(rows[f["split"]][f["row"] - 1])["example_id"] == f["example_id"]
    clean = build_dataset(store, cfg.model_copy(update={"name": "clean"}), workers=workers)
    assert clean["counts"]["lint"]["counts"] == {} and lint_dataset(clean).to_dict()["counts"] == {}
