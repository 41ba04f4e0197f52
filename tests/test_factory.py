"""Factory steps one by one: select (drop reasons, labels over scores), segment, dedup, decontaminate,
shape (bash equivalents run for real), split (no session on both sides), config errors."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bashgym.errors import ConfigError
from bashgym.factory.config import (
    DecontaminateConfig,
    DedupConfig,
    SegmentConfig,
    SelectConfig,
    ShapeConfig,
    SplitConfig,
    parse_config,
)
from bashgym.factory.decontaminate import Decontaminate, TaskText, load_task_texts
from bashgym.factory.dedup import Dedup
from bashgym.factory.pipeline import DEFER, Example, Gate, Map, Parked, Pipeline
from bashgym.factory.segment import Segment
from bashgym.factory.select import ExampleSelect, SessionSelect, read_sessions
from bashgym.factory.shape import ShapeTools, apply_patch_command, bash_equivalent, truncate_middle
from bashgym.factory.split import split_rows
from bashgym.schema import Step
from bashgym.store import Store
from factory_sessions import bash, save, say, session, topic_turn


def examples(store: Store, cfg: SelectConfig | None = None, seg: SegmentConfig | None = None):
    cfg = cfg or SelectConfig()
    pipe = Pipeline([SessionSelect(cfg), Segment(seg or SegmentConfig()), ExampleSelect(cfg)])
    return list(pipe.run(read_sessions(store))), pipe


# ---------------------------------------------------------------------------------------------- select


def test_session_select_drops_with_reasons(store: Store) -> None:
    save(store,
         session("keep", [topic_turn("nginx", 1)]),
         session("gym1", [topic_turn("redis", 2)], source="gym"),
         session("other", [topic_turn("kafka", 3)], project="/srv/elsewhere"),
         session("old", [topic_turn("mysql", 4)], started="2025-01-01T00:00:00Z"),
         session("gpt", [topic_turn("spark", 5)], models=["gpt-5"]))
    cfg = SelectConfig(sources=["claude_code"], projects=["/work/proj"], since="2026-01-01", models=["claude"])
    out, pipe = examples(store, cfg)
    assert [e.session_id for e in out] == ["keep"]
    dropped = pipe.stats()[0]["dropped"]
    assert dropped == {"source:gym": 1, "project": 1, "date:before_since": 1, "model": 1}


def test_human_labels_win_over_scores(store: Store) -> None:
    save(store, session("a", [topic_turn("nginx", 1), topic_turn("redis", 2), topic_turn("kafka", 3)]))
    store.put_score("a", 0, "heuristic", 0.95, "gold", {})
    store.put_score("a", 1, "heuristic", 0.10, "failed", {})
    store.put_score("a", 2, "heuristic", 0.90, "gold", {})
    store.add_label("a", 0, label="bad")          # judged gold, a human says bad
    store.add_label("a", 1, label="good")         # judged failed, a human says good
    out, pipe = examples(store, SelectConfig(tiers=["gold", "silver"], min_score=0.5))
    kept = {e.id: e for e in out}
    assert set(kept) == {"a:1", "a:2"}
    assert kept["a:1"].quality_from == "label" and kept["a:2"].quality_from == "score"
    assert pipe.stats()[2]["dropped"] == {"tier:failed": 1}


def test_label_tier_and_exclude_label(store: Store) -> None:
    save(store, session("a", [topic_turn("nginx", 1), topic_turn("redis", 2)]))
    store.put_score("a", -1, "heuristic", 0.9, "gold", {})
    store.add_label("a", 0, tier="bronze")
    store.add_label("a", 1, label="exclude")
    out, pipe = examples(store, SelectConfig(tiers=["gold", "silver"]))
    assert out == []
    assert pipe.stats()[2]["dropped"] == {"tier:bronze": 1, "label:exclude": 1}


def test_tool_use_filter_reasons(store: Store) -> None:
    save(store, session("a", [("just talk", [say("hello")]), topic_turn("nginx", 1)]))
    out, pipe = examples(store, SelectConfig(min_tool_calls=1))
    assert [e.id for e in out] == ["a:1"]
    assert pipe.stats()[2]["dropped"] == {"tool_use:too_few_calls": 1}
    out, pipe = examples(store, SelectConfig(tools=["Edit"]))
    assert out == [] and pipe.stats()[2]["dropped"] == {"tool_use:none_of_tools": 2}


# ---------------------------------------------------------------------------------------------- segment


def test_segment_turn_session_and_window(store: Store) -> None:
    save(store, session("a", [topic_turn(t, i) for i, t in enumerate(["nginx", "redis", "kafka", "mysql"])]),
         session("empty", [("no answer", [])]))
    out, pipe = examples(store)
    assert [e.id for e in out] == ["a:0", "a:1", "a:2", "a:3"]
    assert pipe.stats()[1]["dropped"] == {"too_few_steps": 1}
    out, _ = examples(store, seg=SegmentConfig(mode="session"))
    assert [len(e.turns) for e in out] == [4]
    one_turn = len(out[0].text()) // 4 // 4
    out, _ = examples(store, seg=SegmentConfig(mode="window", max_tokens=one_turn * 2 + 10))
    assert all(1 <= len(e.turns) <= 2 for e in out) and sum(len(e.turns) for e in out) == 4
    out, _ = examples(store, seg=SegmentConfig(mode="window", max_tokens=one_turn * 2 + 10, overlap_turns=1))
    assert len(out) == 3 and out[1].turns[0].index == out[0].turns[-1].index


def test_window_counts_tokens_with_a_local_tokenizer(store: Store) -> None:
    from harness.tiny_model import tiny_model_dir

    save(store, session("a", [topic_turn(t, i) for i, t in enumerate(["nginx", "redis", "kafka"])]))
    seg = SegmentConfig(mode="window", max_tokens=10_000, tokenizer=str(tiny_model_dir()))
    out, _ = examples(store, seg=seg)
    assert len(out) == 1 and 0 < out[0].meta["tokens"] < 10_000
    with pytest.raises(ConfigError, match="cannot load tokenizer"):
        Segment(SegmentConfig(mode="window", tokenizer="/nonexistent/tokenizer"))


def test_subagents_attach_or_split_and_keep_root(store: Store) -> None:
    parent = session("p", [("delegate the search", [Step(kind="tool_call", tool_name="Task", call_id="task1",
                                                           input={"prompt": "find logs"}, output="found 3",
                                                           meta={"subagent_session_id": "child"})]),
                           topic_turn("nginx", 1)])
    child = session("child", [topic_turn("redis", 2)], parent_id="p")
    save(store, parent, child)
    out, _ = examples(store)
    assert [(e.id, [c.id for c in e.children]) for e in out] == [("p:0", ["child"]), ("p:1", [])]
    out, _ = examples(store, seg=SegmentConfig(subagents="split"))
    assert [(e.id, e.root_id) for e in out] == [("p:0", "p"), ("p:1", "p"), ("child:0", "p")]
    out, _ = examples(store, seg=SegmentConfig(subagents="drop"))
    assert all(not e.children for e in out) and len(out) == 2


# ---------------------------------------------------------------------------------------------- dedup


def test_dedup_finds_planted_near_and_exact_duplicates(store: Store) -> None:
    base = [topic_turn(t, i) for i, t in enumerate(["nginx", "redis", "kafka", "mysql", "spark", "mongo"])]
    prompt, steps = base[0]
    long_answer = " ".join(f"word{i}" for i in range(300))
    near = (prompt, [*steps, say(long_answer + " extra tail words")])
    original = (prompt, [*steps, say(long_answer)])
    exact_again = (prompt.upper() + "   ", [*steps, say(long_answer)])  # differs only in case/space
    save(store, session("a", [original, *base[1:]]), session("b", [near]), session("c", [exact_again]))
    out, _ = examples(store)
    step = Dedup(DedupConfig(threshold=0.8))
    kept = list(step.run(out))
    assert {e.id for e in kept} == {"a:0", "a:1", "a:2", "a:3", "a:4", "a:5"}
    assert step.stats.dropped == {"near_duplicate": 1, "exact_duplicate": 1}
    assert sorted(step.pairs) == [("b:0", "a:0"), ("c:0", "a:0")]


class Seen(Map):
    """A later step that notes every example it is given."""

    name = "seen"

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def apply(self, example: Example) -> Example:
        self.ids.append(example.id)
        return example


def test_duplicates_cost_no_later_step_whether_the_merge_decides_in_the_shard_or_after(store: Store) -> None:
    """Shards run where the merge is (`decide`: dedup decides in the shard) or in a worker (the shard's own
    memo finds the exact copy, and defers the near one to the merge): either way the duplicates never reach
    the steps after dedup, and the kept examples and every count are those of the one-pass pipeline."""
    prompt, steps = topic_turn("nginx", 0)
    long_answer = " ".join(f"word{i}" for i in range(300))
    save(store, session("a", [(prompt, [*steps, say(long_answer)]), topic_turn("redis", 1)]),
         session("b", [(prompt, [*steps, say(long_answer + " extra tail words")])]),
         session("c", [(prompt.upper(), [*steps, say(long_answer)])]), session("d", [topic_turn("kafka", 2)]))
    cfg = SelectConfig()

    def pipeline() -> tuple[Pipeline, Seen]:
        seen = Seen()
        return Pipeline([SessionSelect(cfg), Segment(SegmentConfig()), ExampleSelect(cfg),
                         Dedup(DedupConfig(threshold=0.8)), seen]), seen

    one_pass, _ = pipeline()
    expected = [e.id for e in one_pass.run(read_sessions(store))]
    assert expected == ["a:0", "a:1", "d:0"]
    for decide in (False, True):
        worker, seen = pipeline()
        merging, _ = pipeline()
        memo = worker.gate.new_memo()
        shards = [worker.run_shard(read_sessions(store, ids), memo=memo, decide=merging.gate if decide else None)
                  for ids in (["a", "b"], ["c", "d"])]
        assert [r.deferred is not None for r in shards[0].records] == [False, False, not decide]
        assert [e.id for e in merging.merge(shards)] == expected
        assert merging.stats() == one_pass.stats()
        assert seen.ids == expected


class KeepOdd(Gate):
    """A gate that defers every example, then keeps those with an odd turn index."""

    name = "keep_odd"

    def prepare(self, example: Example, memo: Any) -> tuple[Any, str]:
        return None, DEFER

    def check(self, example_id: str, prepared: Any) -> bool | tuple[bool, str]:
        return True if int(example_id.rsplit(":", 1)[1]) % 2 else (False, "even")


@pytest.mark.parametrize("travelled", [False, True], ids=["same-process", "pickled"])
def test_a_deferred_example_the_gate_keeps_gets_the_later_steps_in_the_merge(store: Store, travelled: bool) -> None:
    """Every example deferred: the merge runs the later steps, the sink and `on_late` on the kept ones, and
    the rows and counts are the one-pass pipeline's, also when the shard came from another process (its
    deferred examples parked, unpickled only once the gate keeps one)."""
    from bashgym.factory.formats import Format

    save(store, session("a", [topic_turn(t, i) for i, t in enumerate(["nginx", "redis", "kafka", "mysql"])]))
    cfg = SelectConfig()

    def pipeline() -> tuple[Pipeline, Seen]:
        seen = Seen()
        return Pipeline([SessionSelect(cfg), Segment(SegmentConfig()), ExampleSelect(cfg), KeepOdd(), seen],
                        sink=Format("messages", ShapeConfig())), seen

    one_pass, _ = pipeline()
    expected = list(one_pass.sink.rows(one_pass.run(read_sessions(store))))
    assert [r["example_id"] for r in expected] == ["a:1", "a:3"]
    worker, worker_seen = pipeline()
    merging, merging_seen = pipeline()
    shard = worker.run_shard(read_sessions(store))
    assert all(r.deferred is not None and r.out is None for r in shard.records) and worker_seen.ids == []
    if travelled:
        shard = pickle.loads(pickle.dumps(shard))
        assert all(isinstance(r.deferred, Parked) and not r.deferred.loaded for r in shard.records)
    late: list[str] = []
    rows = list(merging.merge([shard], on_late=lambda row: late.append(row["example_id"]) or {**row, "late": True}))
    assert rows == [{**r, "late": True} for r in expected]
    assert merging.stats() == one_pass.stats() and merging_seen.ids == late == ["a:1", "a:3"]


def test_deferred_examples_the_gate_drops_are_never_unpickled(store: Store) -> None:
    save(store, session("a", [topic_turn(t, i) for i, t in enumerate(["nginx", "redis"])]))
    cfg = SelectConfig()

    class DropAll(KeepOdd):
        def check(self, example_id: str, prepared: Any) -> tuple[bool, str]:
            return False, "all"

    def pipeline() -> Pipeline:
        return Pipeline([SessionSelect(cfg), Segment(SegmentConfig()), ExampleSelect(cfg), DropAll()])

    shard = pickle.loads(pickle.dumps(pipeline().run_shard(read_sessions(store))))
    merging = pipeline()
    assert list(merging.merge([shard])) == [] and merging.gate.stats.dropped == {"all": 2}
    assert [r.deferred.loaded for r in shard.records] == [False, False]


# ---------------------------------------------------------------------------------------------- decontaminate


def test_decontaminate_drops_examples_overlapping_a_gym_task(store: Store, tmp_path: Path) -> None:
    task = tmp_path / "count-errors"
    task.mkdir()
    instruction = "Count how many lines in server.log contain the word ERROR and write the number to count.txt"
    (task / "task.yaml").write_text(f"id: count-errors\ncategory: text\ninstruction: {instruction}\n")
    (task / "solution.sh").write_text("grep -c ERROR server.log > count.txt\n")
    (task / "tests").mkdir()
    (task / "tests" / "test.sh").write_text("test -s count.txt\n")
    leaked = (instruction, [bash("grep -c ERROR server.log > count.txt"), say("done")])
    # A gym rollout of the task: the instruction word for word, but a wrong attempt instead of the solution.
    rollout = (instruction, [bash("ls -la"), bash("cat server.log | head"), say("I give up")])
    save(store, session("a", [leaked, topic_turn("nginx", 1), rollout]))
    out, _ = examples(store)
    tasks = load_task_texts(str(tmp_path))
    assert [t.id for t in tasks] == ["count-errors", "count-errors"]  # instruction and solution, apart
    step = Decontaminate(DecontaminateConfig(suite=str(tmp_path)))
    kept = list(step.run(out))
    assert [e.id for e in kept] == ["a:1"]
    assert step.stats.dropped == {"overlaps_task:count-errors": 2}


def test_decontaminate_matches_tasks_shorter_than_n(store: Store) -> None:
    save(store, session("a", [("please sort names.txt", [bash("sort names.txt")])]))
    out, _ = examples(store)
    step = Decontaminate(DecontaminateConfig(ngram=8), tasks=[TaskText("sort", "sort names.txt")])
    assert list(step.run(out)) == [] and step.stats.dropped == {"overlaps_task:sort": 1}


def test_decontaminate_finds_exactly_the_task_ngrams_every_example_ngram_would() -> None:
    """The filter only builds n-grams from runs of task words; on the builtin suite's own texts, cut up,
    shuffled and mixed with other words, it finds the same task n-grams as building every n-gram does."""
    import random

    from bashgym.factory.decontaminate import ngrams, words

    step = Decontaminate(DecontaminateConfig())
    assert step.task_grams and len(step.sizes) >= 1
    texts = [t.text for t in step.tasks]
    pool = sorted(step.vocab) + ["zebra", "kubectl", "the", "0x1f"]
    rng = random.Random(7)
    for trial in range(600):
        if trial % 3 == 0:  # a task's words with others slipped in
            tokens = words(rng.choice(texts))
            for _ in range(rng.randint(0, 5)):
                tokens.insert(rng.randint(0, len(tokens)), rng.choice(pool))
        elif trial % 3 == 1:
            tokens = [rng.choice(pool) for _ in range(rng.randint(0, 40))]
        else:  # shorter than n
            tokens = words(rng.choice(texts))[: rng.randint(0, 9)]
        every = {g for size in step.sizes for g in ngrams(tokens, size) if g in step.index}
        assert {g for g in step._candidate_grams(tokens) if g in step.index} == every, tokens


# ---------------------------------------------------------------------------------------------- shape


def _run(cmd: str, cwd: Path) -> None:
    subprocess.run(["bash", "-c", cmd], cwd=cwd, check=True, capture_output=True, timeout=30)


def test_bash_equivalents_have_the_same_effect(tmp_path: Path) -> None:
    f = tmp_path / "src" / "app.py"
    content = "def main():\n    print('hi')  # EOF\nEOF\n    return 'x'\n"
    _run(bash_equivalent(Step(kind="tool_call", tool_name="Write", input={"file_path": str(f), "content": content})),
         tmp_path)
    assert f.read_text() == content
    _run(bash_equivalent(Step(kind="tool_call", tool_name="Write",
                              input={"file_path": str(tmp_path / "n.txt"), "content": "no newline"})), tmp_path)
    assert (tmp_path / "n.txt").read_text() == "no newline"
    _run(bash_equivalent(Step(kind="tool_call", tool_name="Edit", input={
        "file_path": str(f), "old_string": "print('hi')", "new_string": 'print("it\'s \\\\ ok")'})), tmp_path)
    assert "print(\"it's \\\\ ok\")" in f.read_text()
    _run(bash_equivalent(Step(kind="tool_call", tool_name="MultiEdit", input={"file_path": str(f), "edits": [
        {"old_string": "def main", "new_string": "def run"},
        {"old_string": "'x'", "new_string": "'y'", "replace_all": True}]})), tmp_path)
    assert f.read_text().startswith("def run():") and "return 'y'" in f.read_text()
    failing = bash_equivalent(Step(kind="tool_call", tool_name="Edit", input={
        "file_path": str(f), "old_string": "not there", "new_string": "x"}))
    assert subprocess.run(["bash", "-c", failing], capture_output=True).returncode != 0
    read = bash_equivalent(Step(kind="tool_call", tool_name="Read", input={"file_path": str(f), "offset": 2,
                                                                         "limit": 1}))
    out = subprocess.run(["bash", "-c", read], capture_output=True, text=True).stdout
    assert out.strip().startswith("2") and "print" in out


def test_apply_patch_becomes_shell(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo\nthree\n")
    (tmp_path / "old.txt").write_text("bye\n")
    patch = ("*** Begin Patch\n*** Add File: new.txt\n+hello\n+world\n*** Update File: a.txt\n@@\n one\n-two\n+2\n"
             " three\n*** Delete File: old.txt\n*** End Patch\n")
    _run(apply_patch_command(patch), tmp_path)
    assert (tmp_path / "new.txt").read_text() == "hello\nworld\n"
    assert (tmp_path / "a.txt").read_text() == "one\n2\nthree\n"
    assert not (tmp_path / "old.txt").exists()


def test_shape_bash_mode_converts_drops_and_truncates(store: Store) -> None:
    steps = [Step(kind="tool_call", tool_name="Edit", call_id="e1",
                  input={"file_path": "a.py", "old_string": "x", "new_string": "y"}, output="ok"),
             Step(kind="tool_call", tool_name="WebSearch", call_id="w1", input={"query": "q"}, output="r"),
             bash("cat big.log", "H" * 5000 + "middle" + "T" * 5000)]
    save(store, session("a", [("edit it", steps)]))
    out, _ = examples(store)
    shape = ShapeTools(ShapeConfig(tools="bash", max_output_chars=1000))
    (ex,) = list(shape.run(out))
    calls = ex.turns[0].steps
    assert [c.tool_name for c in calls] == ["bash", "bash"]
    assert calls[0].input["command"].startswith("python3 - <<'EOF'") and calls[0].meta["original_tool"] == "Edit"
    assert calls[1].output.startswith("H" * 500) and calls[1].output.endswith("T" * 500)
    assert "characters of output cut" in calls[1].output and "middle" not in calls[1].output
    assert shape.stats.counters == {"converted:Edit": 1, "unconvertible:WebSearch": 1, "outputs_truncated": 1}
    strict = ShapeTools(ShapeConfig(tools="bash", unconvertible="drop_example"))
    assert list(strict.run(examples(store)[0])) == [] and strict.stats.dropped == {"unconvertible_tool": 1}


def test_truncate_middle_keeps_short_text() -> None:
    assert truncate_middle("short", 100) == "short"
    cut = truncate_middle("a" * 60 + "b" * 60, 40, head_fraction=0.25)
    assert cut.startswith("a" * 10) and cut.endswith("b" * 30) and "[... 80 characters" in cut


# ---------------------------------------------------------------------------------------------- split


def test_split_never_puts_a_session_on_two_sides() -> None:
    rows = []
    for s in range(60):
        for t in range(5):
            rows.append({"session_id": f"s{s}", "_groups": [f"s{s}"], "turn": t})
    # preference pairs join two sessions: both must land on the same side
    rows += [{"_groups": [f"s{i}", f"s{i + 1}"]} for i in range(0, 58, 7)]
    cfg = SplitConfig(train=0.6, validation=0.2, test=0.2, seed=3)
    splits = split_rows(rows, cfg)
    sides: dict[str, set[str]] = {}
    for name, part in splits.items():
        for row in part:
            for g in row["_groups"]:
                sides.setdefault(g, set()).add(name)
    assert all(len(v) == 1 for v in sides.values())
    assert all(splits[n] for n in ("train", "validation", "test"))
    assert split_rows(rows, cfg) == splits  # seeded: same split every time
    assert split_rows(rows, SplitConfig(train=0.6, validation=0.2, test=0.2, seed=4)) != splits


# ---------------------------------------------------------------------------------------------- config


def test_config_unknown_keys_suggest_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'selct' .*did you mean \"select\""):
        parse_config({"selct": {}})
    with pytest.raises(ConfigError, match=r"unknown key 'tier' in dataset config \(select\).*\"tiers\""):
        parse_config({"select": {"tier": ["gold"]}})
    with pytest.raises(ConfigError, match="split fractions must sum to 1"):
        parse_config({"split": {"train": 0.5, "validation": 0.1, "test": 0.1}})
    cfg = parse_config({"format": "dpo", "segment": {"mode": "window", "max_tokens": 512}})
    assert cfg.format == "dpo" and cfg.segment.max_tokens == 512


def test_config_values_read_got_x_expected_y_and_misplaced_keys_name_their_section() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"tier": ["gold"]}, "d.yaml")
    assert str(err.value).startswith("""unknown key 'tier' in d.yaml (did you mean "select.tiers"?)""")
    with pytest.raises(ConfigError) as err:
        parse_config({"select": {"tiers": ["platinum"]}}, "d.yaml")
    assert str(err.value) == ("select.tiers: got 'platinum', expected one of gold, silver, bronze, failed, "
                              "unscored (in d.yaml)")
    with pytest.raises(ConfigError) as err:
        parse_config({"select": {"min_tool_calls": "many"}}, "d.yaml")
    assert str(err.value) == "select.min_tool_calls: got 'many', expected a valid integer (in d.yaml)"
    with pytest.raises(ConfigError, match=r"^shape: got 3, expected a mapping with keys tools, "):
        parse_config({"shape": 3})
    assert parse_config({"segment": "window"}).segment.mode == "window"  # as `--segment window`
    with pytest.raises(ConfigError, match=r"^segment.mode: got 'sentence', expected one of turn, session, window"):
        parse_config({"segment": "sentence"})

