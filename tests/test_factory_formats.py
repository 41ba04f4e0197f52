"""Built datasets: every format loads with `datasets` (JSONL, Parquet, save_to_disk), SFT and preference
rows pass TRL's format checks and the tiny test tokenizer's chat template, redaction is on by default,
and the build is recorded in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from bashgym.factory.build import build_dataset
from bashgym.factory.config import FORMATS, DatasetConfig
from bashgym.factory.select import ALL_TIERS
from bashgym.schema import Step
from bashgym.store import Store
from factory_sessions import bash, save, say, session, topic_turn

SECRET = "ghp_" + "Zq8xW2" * 6


@pytest.fixture()
def populated(store: Store) -> Store:
    """Twelve sessions; the same request done well (gold) and badly (failed) in two of them; a subagent;
    a secret in a tool output; Edit and Write calls."""
    topics = ["nginx", "redis", "kafka", "mysql", "spark", "mongo", "etcd", "consul", "vault", "caddy"]
    sessions = [session(f"s{i}", [topic_turn(t, i), topic_turn(t + "x", i + 20)]) for i, t in enumerate(topics)]
    request = "Fix the failing test in tests/test_math.py"
    good = session("good", [(request, [
        say("Let me look at the test."),
        Step(kind="tool_call", tool_name="Read", call_id="r1", input={"file_path": "tests/test_math.py"},
             output="1\tassert add(2, 2) == 5"),
        Step(kind="tool_call", tool_name="Edit", call_id="e1", input={
            "file_path": "tests/test_math.py", "old_string": "== 5", "new_string": "== 4"}, output="updated"),
        bash("pytest -q", "1 passed", call_id="b1"),
        say("Fixed: the expected value was wrong.")])])
    bad = session("bad", [(request, [
        say("Running the tests."),
        bash(f"GITHUB_TOKEN={SECRET} pytest -q", "1 failed", exit_code=1, call_id="b2"),
        Step(kind="tool_call", tool_name="Task", call_id="t1", input={"prompt": "look for add()"},
             output="add is in math.py", meta={"subagent_session_id": "bad-sub"}),
        say("I could not fix it.")])])
    sub = session("bad-sub", [("look for add()", [bash("grep -rn 'def add' .", "math.py:1:def add(a, b):")])],
                  parent_id="bad")
    save(store, *sessions, good, bad, sub)
    store.put_score("good", 0, "heuristic", 0.92, "gold", {})
    store.put_score("bad", 0, "heuristic", 0.05, "failed", {})
    store.put_score("s0", -1, "heuristic", 0.7, "silver", {})
    store.add_label("s1", -1, label="bad")
    return store


def build(store: Store, fmt: str, **overrides) -> dict:
    """Every tier, unscored included: these tests are about formats, not about what the judge keeps."""
    cfg = DatasetConfig(name=f"t-{fmt}", format=fmt, **{"select": {"tiers": list(ALL_TIERS)}, **overrides})
    return build_dataset(store, cfg)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_with_datasets(populated: Store, fmt: str) -> None:
    from datasets import load_dataset, load_from_disk

    record = build(populated, fmt)
    path = Path(record["path"])
    rows = record["counts"]["rows"]
    assert rows["train"] > 0 and (path / "README.md").exists()
    files = {s: str(path / f"{s}.jsonl") for s in rows if rows[s]}
    from_json = load_dataset("json", data_files=files)
    from_parquet = load_dataset("parquet", data_files={s: str(path / f"{s}.parquet") for s in files})
    from_disk = load_from_disk(str(path / "hf"))
    for split, n in rows.items():
        assert from_disk[split].num_rows == n
        if n:
            assert from_json[split].num_rows == n and from_parquet[split].num_rows == n
    assert from_disk["train"].column_names == from_parquet["train"].column_names
    expected = {"messages": {"messages", "tools", "session_id"}, "sharegpt": {"conversations", "tools"},
                "adp": {"id", "content", "details"}, "atif": {"schema_version", "steps", "subagent_trajectories"},
                "dpo": {"prompt", "chosen", "rejected"}, "kto": {"prompt", "completion", "label"}}[fmt]
    assert expected <= set(from_disk["train"].column_names)
    assert not any(c.startswith("_") for c in from_disk["train"].column_names)
    text = "".join(Path(f).read_text() for f in files.values())
    assert SECRET not in text  # redaction is on by default, for every format
    stored = populated.get_dataset(record["id"])
    assert stored["content_hash"] == record["content_hash"] and stored["redacted"] is True
    assert set(populated.dataset_session_ids(record["id"])) >= {r for r in populated.dataset_session_ids(record["id"])}


@pytest.mark.parametrize("fmt", FORMATS)
def test_parquet_and_hf_copies_read_back_as_the_jsonl_rows(populated: Store, fmt: str) -> None:
    """The Arrow copies are written batch by batch from the JSONL files (conversation columns as `datasets`
    JSON values): read back with `datasets`, every row is its JSONL row, value for value."""
    import json

    import pyarrow.parquet as pq
    from datasets import Dataset, load_from_disk

    record = build(populated, fmt)
    path = Path(record["path"])
    dd = load_from_disk(str(path / "hf"))
    compared = 0
    for split, n in record["counts"]["rows"].items():
        rows = [json.loads(line) for line in (path / f"{split}.jsonl").read_text().splitlines()]
        assert len(rows) == n == dd[split].num_rows
        columns = dd[split].column_names
        assert set(columns) == {k for r in rows for k in r} or not rows
        want = [{c: r.get(c) for c in columns} for r in rows]
        assert list(dd[split]) == want
        assert list(Dataset(pq.read_table(path / f"{split}.parquet"))) == want
        compared += n
    assert compared > 0


def _tokenizer():
    from transformers import AutoTokenizer

    from harness.tiny_model import tiny_model_dir

    return AutoTokenizer.from_pretrained(tiny_model_dir())


def _all_rows(record: dict) -> list[dict]:
    from datasets import load_from_disk

    dd = load_from_disk(str(Path(record["path"]) / "hf"))
    return [row for split in dd.values() for row in split]


def test_messages_rows_pass_trl_checks_and_the_tiny_chat_template(populated: Store) -> None:
    from trl.data_utils import apply_chat_template, is_conversational

    tok = _tokenizer()
    rows = _all_rows(build(populated, "messages"))
    assert len(rows) == 22  # 20 topic turns + good + bad (its subagent is attached, not an example)
    for row in rows:
        assert is_conversational(row)
        out = apply_chat_template({"messages": row["messages"]}, tok, tools=row["tools"])
        assert out["text"].count("<|im_start|>user") >= 1
    good = next(r for r in rows if r["session_id"] == "good")
    roles = [m["role"] for m in good["messages"]]
    # three calls made one after another (no shared model message): each result before the next call
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool", "assistant"]
    calls = [c for m in good["messages"] for c in m.get("tool_calls") or []]
    assert [c["function"]["name"] for c in calls] == ["Read", "Edit", "Bash"]
    assert calls[1]["function"]["arguments"]["new_string"] == "== 4"
    assert [m["tool_call_id"] for m in good["messages"] if m["role"] == "tool"] == ["r1", "e1", "b1"]
    rendered = tok.apply_chat_template(good["messages"], tools=good["tools"], tokenize=False)
    assert '"name": "Edit"' in rendered and "<tool_response>\nupdated" in rendered


def test_bash_only_messages_render_edits_as_shell(populated: Store) -> None:
    from trl.data_utils import apply_chat_template

    tok = _tokenizer()
    record = build(populated, "messages", shape={"tools": "bash"})
    rows = _all_rows(record)
    good = next(r for r in rows if r["session_id"] == "good")
    names = {c["function"]["name"] for m in good["messages"] for c in (m.get("tool_calls") or [])}
    assert names == {"bash"} and [t["function"]["name"] for t in good["tools"]] == ["bash"]
    from bashgym.gym.protocol import BASH_TOOL, SYSTEM_PROMPT

    assert good["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT} and good["tools"] == [BASH_TOOL]
    edit = good["messages"][4]["tool_calls"][0]["function"]["arguments"]["command"]  # the gym's prompt comes first
    assert edit.startswith("python3 - <<'EOF'") and "'== 4'" in edit
    apply_chat_template({"messages": good["messages"]}, tok, tools=good["tools"])


@pytest.mark.parametrize("fmt", ["dpo", "kto"])
def test_preference_rows_pass_trl_checks_and_the_tiny_chat_template(populated: Store, fmt: str) -> None:
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    tok = _tokenizer()
    record = build(populated, fmt)
    rows = _all_rows(record)
    if fmt == "dpo":
        assert len(rows) == 1
        row = rows[0]
        assert (row["chosen_session_id"], row["rejected_session_id"]) == ("good", "bad")
        assert row["prompt"] == [{"role": "user", "content": "Fix the failing test in tests/test_math.py",
                                  "tool_calls": None, "tool_call_id": None, "name": None}] or \
            [m["content"] for m in row["prompt"]] == ["Fix the failing test in tests/test_math.py"]
        # chosen and rejected sessions land on the same side of the split
        assert sum(record["counts"]["rows"].values()) == 1
    else:
        labels = sorted((r["session_id"], r["label"]) for r in rows)
        assert ("good", True) in labels and ("bad", False) in labels and ("s0", True) in labels
        assert ("s1", False) in labels  # a human "bad" label on the session
    for row in rows:
        assert is_conversational(row)
        keys = ("prompt", "chosen", "rejected") if fmt == "dpo" else ("prompt", "completion", "label")
        out = maybe_apply_chat_template({k: row[k] for k in keys}, tok, tools=row["tools"])
        assert out["prompt"].endswith("<|im_start|>assistant\n")
        body = out["chosen"] if fmt == "dpo" else out["completion"]
        assert "<tool_call>" in body


def test_atif_keeps_subagents_linked(populated: Store) -> None:
    rows = _all_rows(build(populated, "atif"))
    bad = next(r for r in rows if r["session_id"] == "bad")
    refs = [res["subagent_trajectory_ref"] for st in bad["steps"] if st.get("observation")
            for res in st["observation"]["results"] if res["subagent_trajectory_ref"]]
    assert refs == [[{"session_id": "bad-sub", "trajectory_path": None}]]
    assert [t["session_id"] for t in bad["subagent_trajectories"]] == ["bad-sub"]
    assert bad["schema_version"].startswith("ATIF-v1")


def test_no_redact_is_explicit_and_loud(populated: Store) -> None:
    record = build_dataset(populated, DatasetConfig(name="raw", select={"tiers": list(ALL_TIERS)}), redact=False)
    path = Path(record["path"])
    assert SECRET in (path / "train.jsonl").read_text() + (path / "validation.jsonl").read_text() + (
        path / "test.jsonl").read_text()
    card = (path / "README.md").read_text()
    assert "WARNING: THIS DATASET WAS BUILT WITH `--no-redact`" in card
    assert populated.get_dataset("raw")["redacted"] is False


def test_versions_and_card_counts(populated: Store) -> None:
    first = build(populated, "messages")
    second = build(populated, "messages")
    assert (first["id"], second["id"]) == ("ds-t-messages-v1", "ds-t-messages-v2")
    assert first["content_hash"] == second["content_hash"]
    card = (Path(second["path"]) / "README.md").read_text()
    rows = second["counts"]["rows"]
    assert f"| train | {rows['train']} |" in card and "| redact |" in card and "## Licence" in card
    assert "secret" in card.lower()


def test_parallel_build_matches_single_process(populated: Store) -> None:
    one = build_dataset(populated, DatasetConfig(name="one"), workers=1)
    two = build_dataset(populated, DatasetConfig(name="two"), workers=2)
    assert one["counts"]["rows"] == two["counts"]["rows"]
    assert [s["kept"] for s in one["counts"]["steps"]] == [s["kept"] for s in two["counts"]["steps"]]


def test_real_claude_transcripts_build_into_every_format(store: Store, fixtures_dir: Path) -> None:
    """Real Claude Code CLI transcripts (tests/fixtures/claude), imported by the real importer."""
    import subprocess
    import sys

    from trl.data_utils import apply_chat_template

    out = subprocess.run([sys.executable, "-m", "bashgym.cli", "import", "claude", str(fixtures_dir / "claude" /
                          "projects")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    tok = _tokenizer()
    rows = _all_rows(build(store, "messages", dedup={"near": False}))
    assert len(rows) >= 5
    for row in rows:
        apply_chat_template({"messages": row["messages"]}, tok, tools=row["tools"])
    atif = _all_rows(build(store, "atif", dedup={"near": False}))
    with_sub = [r for r in atif if r["subagent_trajectories"]]
    assert len(with_sub) == 1
    (traj,) = with_sub[0]["subagent_trajectories"]
    refs = [res["subagent_trajectory_ref"] for st in with_sub[0]["steps"] if st.get("observation")
            for res in st["observation"]["results"] if res["subagent_trajectory_ref"]]
    assert refs == [[{"session_id": traj["session_id"], "trajectory_path": None}]]
    bash_rows = _all_rows(build(store, "messages", shape={"tools": "bash"}, dedup={"near": False}))
    assert {t["function"]["name"] for r in bash_rows for t in r["tools"]} == {"bash"}


def test_default_selection_follows_the_judge_and_records_what_it_left_out(populated: Store) -> None:
    populated.put_score("s2", -1, "heuristic", 0.4, "bronze", {"flags": ["test_tampering"]})
    record = build_dataset(populated, DatasetConfig(name="dflt"))
    rows = _all_rows(record)
    assert {r["session_id"] for r in rows} == {"good", "s0"}  # gold + silver only; "bad" was failed
    assert {r["tier"] for r in rows} == {"gold", "silver"}
    sel = record["counts"]["selection"]
    assert sel["tiers"] == ["gold", "silver"] and sel["chosen_by"] == "default"
    # bad's turn (failed), s1's two turns (labelled bad → failed), s2's two (bronze), the rest never judged
    assert sel["excluded"] == {"bronze": 2, "failed": 3, "unscored": 14}
    assert sel["flags"] == {"test_tampering": 2}
    card = (Path(record["path"]) / "README.md").read_text()
    assert "## Selection by quality" in card and "Kept tiers: gold, silver (the format's default" in card
    assert "Excluded by tier: bronze 2, failed 3, unscored 14." in card
    assert record["config"]["select"]["tiers"] == ["gold", "silver"]  # a rebuild from the record keeps it


def test_tier_override_and_preference_defaults_pair_good_with_bronze_or_failed(populated: Store) -> None:
    record = build_dataset(populated, DatasetConfig(name="ovr", select={"tiers": ["failed"]}))
    assert {r["session_id"] for r in _all_rows(record)} == {"bad", "s1"}
    assert record["counts"]["selection"]["chosen_by"] == "override"
    kto = build_dataset(populated, DatasetConfig(name="k", format="kto"))
    labels = {(r["session_id"], r["label"]) for r in _all_rows(kto)}
    assert labels == {("good", True), ("s0", True), ("bad", False), ("s1", False)}
    assert kto["counts"]["selection"]["excluded"] == {"unscored": 16}
    populated.put_score("bad", 0, "heuristic", 0.45, "bronze", {})  # a bronze answer is a rejected one too
    dpo = _all_rows(build_dataset(populated, DatasetConfig(name="p", format="dpo")))
    assert [(r["chosen_session_id"], r["rejected_session_id"], r["rejected_tier"]) for r in dpo] == [
        ("good", "bad", "bronze")]
