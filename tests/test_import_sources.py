"""`bashgym import codex|gemini|opencode|file|all` through the real store: real Codex CLI rollouts, fixtures
built from the Gemini CLI / OpenCode types, and one fixture per public dataset format (round trips)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from bashgym.cli import app  # noqa: E402
from bashgym.schema import is_shell_call, shell_command  # noqa: E402
from bashgym.sources.codex import CodexSource  # noqa: E402
from bashgym.sources.datasets import DatasetSource, UnknownFormatError, detect_format  # noqa: E402
from bashgym.sources.gemini import GeminiSource  # noqa: E402
from bashgym.sources.importer import import_paths  # noqa: E402
from bashgym.sources.opencode import OpenCodeSource  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.npm_tools import CODEX_PACKAGE, locked_version, npm_bin  # noqa: E402
from importer_fixtures import (  # noqa: E402
    ADP_RECORDS,
    FAILING_TESTS_OUTPUT,
    GEMINI_SESSION,
    OPENAI_RECORDS,
    OPENCODE_SESSION,
    SHAREGPT_RECORDS,
    T0,
    write_datasets,
    write_gemini,
    write_opencode,
    write_opencode_message,
)

runner = CliRunner()
CODEX_FIXTURES = Path(__file__).parent / "fixtures" / "codex"


def import_with(store: Store, fmt, root: Path):
    return import_paths(store, fmt, fmt.discover(root))


# ------------------------------------------------------------------------------------------ Codex

def check_codex_session(session) -> None:
    """The steps the scripted scenario (harness/make_codex_fixtures.py) makes the real CLI record."""
    assert session.source == "codex" and session.agent_version == locked_version(CODEX_PACKAGE) and session.models == ["gpt-5-codex"]
    assert session.git_branch == "main" and len(session.git_commit or "") == 40
    first, second = session.turns
    assert first.prompt == "[CX1] How many lines does notes.txt have? Then add hello.txt."
    assert second.prompt == "[CX2] Show me notes.txt."
    assert first.steps[1].thinking == "I should count the lines first." and first.steps[1].text == ""
    wc, ls, patch = first.tool_calls
    assert (wc.tool_name, wc.call_id, shell_command(wc)) == ("exec_command", "call_wc", "wc -l notes.txt")
    assert is_shell_call(wc) and "2 notes.txt" in wc.output and wc.exit_code == 0 and not wc.is_error
    assert shell_command(ls) == "ls does-not-exist" and ls.exit_code == 2 and ls.is_error
    assert "No such file or directory" in ls.output
    assert patch.tool_name == "apply_patch" and not is_shell_call(patch)
    assert patch.input == {"patch": "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"}
    assert patch.output is not None  # this CLI build answers the freeform call with its own message
    assert first.steps[-1].text == "notes.txt has 2 lines."
    (cat,) = second.tool_calls
    assert shell_command(cat) == "cat notes.txt" and cat.output.endswith("alpha\nbeta\n") and cat.exit_code == 0
    assert second.steps[-1].text == "It says alpha and beta."
    # token_count totals: 4 requests in turn 1, 2 in turn 2, each 200 in (50 cached) / 40 out
    assert (first.usage.input_tokens, first.usage.cache_read_tokens, first.usage.output_tokens) == (600, 200, 160)
    assert session.usage.input_tokens == 900 and session.usage.output_tokens == 240


def test_codex_rollout_imports_every_step(store: Store) -> None:
    summary = import_with(store, CodexSource(), CODEX_FIXTURES)
    assert summary.files == 1 and summary.skipped_lines == 0 and summary.sessions == 1
    (row,) = store.list_sessions(source="codex")
    check_codex_session(store.get_session(row["id"]))
    patch = store.get_session(row["id"]).turns[0].tool_calls[2]  # the CLI refused it: no exit code, still an error
    assert patch.output.startswith("unsupported custom tool call: apply_patch") and patch.is_error
    again = import_with(store, CodexSource(), CODEX_FIXTURES)
    assert again.files_read == 0 and store.count_sessions() == 1


def test_codex_corrupt_line_is_reported_with_file_and_line(store: Store, tmp_path: Path) -> None:
    src = next(CODEX_FIXTURES.glob("rollout-*.jsonl"))
    lines = src.read_bytes().splitlines(keepends=True)
    path = tmp_path / src.name
    path.write_bytes(b"".join(lines[:5]) + b'{"timestamp": "x", "type": "response_item", "payl\n' + b"".join(lines[5:]))
    summary = import_paths(store, CodexSource(), [path])
    assert summary.skipped_lines == 1
    err_path, line, message = summary.errors[0]
    assert err_path.endswith(src.name) and line == 6 and "invalid JSON" in message
    (row,) = store.list_sessions(source="codex")
    assert len(store.get_session(row["id"]).steps) == 9


def test_sessions_list_filters_codex(store: Store) -> None:
    import_with(store, CodexSource(), CODEX_FIXTURES)
    result = runner.invoke(app, ["sessions", "list", "--source", "codex", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    rows = rows["sessions"] if isinstance(rows, dict) else rows
    assert [r["source"] for r in rows] == ["codex"]
    assert runner.invoke(app, ["sessions", "list", "--source", "gemini", "--json"]).exit_code == 0


@pytest.mark.slow
def test_real_codex_cli_end_to_end(isolated_home: Path, tmp_path: Path) -> None:
    from harness.make_codex_fixtures import run_scenario

    codex = npm_bin(CODEX_PACKAGE, "codex")
    assert codex is not None, "npm is required: the test installs @openai/codex"
    outputs, server = run_scenario(codex, isolated_home, tmp_path / "work")
    assert '"exit_code":2' in outputs[0]  # the CLI really ran the failing command
    sent = [i for r in server.requests for i in r["body"].get("input", []) if i.get("type") == "function_call_output"]
    assert any("2 notes.txt" in str(i.get("output")) for i in sent)
    result = runner.invoke(app, ["import", "codex", "--json"])  # default root: $HOME/.codex/sessions
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sessions"] == 1
    with Store.open() as store:
        check_codex_session(store.get_session(store.list_sessions(source="codex")[0]["id"]))


# ------------------------------------------------------------------------------------------ Gemini CLI

def test_gemini_chat_replays_updates_rewinds_and_tool_calls(store: Store, tmp_path: Path) -> None:
    files = write_gemini(tmp_path / "gemini" / "tmp")
    summary = import_with(store, GeminiSource(), tmp_path / "gemini" / "tmp")
    assert summary.files == 5 and summary.skipped_lines == 0 and not summary.failed_files
    s = store.get_session(GEMINI_SESSION)
    assert s.title == "Run and fix the tests" and s.models == ["gemini-2.5-pro"]
    assert [t.prompt for t in s.turns] == ["Run the tests in this repo", "Now fix it"]  # m6 was rewound
    user, reply, fail, ok, replace, info = s.turns[0].steps
    assert reply.text == "Running them now." and reply.thinking == "**Plan** Use pytest."
    assert (fail.tool_name, fail.call_id, shell_command(fail)) == ("run_shell_command", "run_shell_command-1",
                                                                   "pytest -q")
    assert fail.exit_code == 1 and fail.is_error and fail.output == FAILING_TESTS_OUTPUT
    assert ok.exit_code == 0 and not ok.is_error and ok.output == "Output: README.md\nsrc"
    assert replace.is_error and replace.output == "old_string not found" and replace.exit_code is None
    assert info.role == "system" and info.meta["level"] == "info"
    assert s.turns[0].usage.input_tokens == 600 and s.turns[0].usage.cache_read_tokens == 400
    assert s.turns[0].usage.output_tokens == 70
    legacy = store.get_session("aaaa1111-2222-3333-4444-555566667777")
    assert legacy.turns[0].tool_calls[0].output == "README.md"
    sub = store.get_session("b7e2c0de-sub1")
    assert sub.parent_id == GEMINI_SESSION and sub.cwd == "/w"
    saved = next(r for r in store.list_sessions(source="gemini") if r["id"].startswith("gemini-checkpoint")
                 and store.get_session(r["id"]).meta["checkpoint"] == "chat_save")
    call = store.get_session(saved["id"]).turns[0].tool_calls[0]
    assert call.exit_code == 2 and call.is_error and call.call_id == "c1"
    assert files["chat"].exists()


def test_gemini_rewritten_file_is_read_again(store: Store, tmp_path: Path) -> None:
    files = write_gemini(tmp_path / "g")
    import_with(store, GeminiSource(), tmp_path / "g")
    with open(files["chat"], "a") as fh:
        fh.write(json.dumps({"id": "m7", "timestamp": "2026-11-20T10:03:00.000Z", "type": "user",
                             "content": "one more"}) + "\n")
    again = import_with(store, GeminiSource(), tmp_path / "g")
    assert again.files_read == 1
    assert [t.prompt for t in store.get_session(GEMINI_SESSION).turns][-1] == "one more"


# ------------------------------------------------------------------------------------------ OpenCode

def test_opencode_storage_imports_tools_exit_codes_and_tokens(store: Store, tmp_path: Path) -> None:
    storage = tmp_path / "opencode" / "storage"
    write_opencode(storage)
    summary = import_with(store, OpenCodeSource(), storage)
    assert summary.sessions == 1 and summary.skipped_lines == 0
    s = store.get_session(OPENCODE_SESSION)
    assert s.title == "Build the project" and s.cwd == "/home/dev/app" and s.agent_version == "1.0.150"
    assert s.models == ["claude-sonnet-4-5"] and s.source_path.endswith(f"{OPENCODE_SESSION}.json")
    turn = s.turns[0]
    assert turn.prompt == "Build the project and tell me if it passes"
    kinds = [(st.kind, st.role, st.tool_name) for st in turn.steps]
    assert kinds == [("message", "user", None), ("message", "assistant", None), ("tool_call", "assistant", "bash"),
                     ("tool_call", "assistant", "edit"), ("tool_call", "assistant", "bash"),
                     ("message", "assistant", None)]
    assert turn.steps[1].thinking == "Try make first." and turn.steps[1].text == "Building."
    make, edit, ls = turn.tool_calls
    assert shell_command(make) == "make" and make.exit_code == 2 and make.is_error and make.duration_ms == 2500
    assert make.call_id == "toolu_01" and make.output.endswith("expected ';'")
    assert edit.is_error and edit.output == "oldString not found in content" and edit.exit_code is None
    assert ls.exit_code == 0 and not ls.is_error
    assert (turn.usage.input_tokens, turn.usage.output_tokens, turn.usage.cache_read_tokens) == (1500, 150, 800)
    assert s.meta["cost_usd"] == 0.0123


def test_opencode_new_message_is_picked_up_and_unchanged_skipped(store: Store, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    write_opencode(storage)
    import_with(store, OpenCodeSource(), storage)
    assert import_with(store, OpenCodeSource(), storage).files_read == 0
    write_opencode_message(storage, {"id": "msg_003", "sessionID": OPENCODE_SESSION, "role": "user",
                                     "time": {"created": T0 + 20000}, "agent": "build",
                                     "model": {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"}},
                           [{"id": "prt_100", "sessionID": OPENCODE_SESSION, "messageID": "msg_003", "type": "text",
                             "text": "Now fix it"}])
    again = import_with(store, OpenCodeSource(), storage)
    assert again.files_read == 1 and store.count_sessions() == 1
    assert [t.prompt for t in store.get_session(OPENCODE_SESSION).turns][-1] == "Now fix it"


def test_opencode_corrupt_part_is_reported_by_its_file(store: Store, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    write_opencode(storage)
    bad = storage / "part" / "msg_002" / "prt_015.json"
    bad.write_text('{"id": "prt_015", "type": "tool", ')
    summary = import_with(store, OpenCodeSource(), storage)
    assert summary.skipped_lines == 1 and str(bad) in summary.errors[0][2]
    assert len(store.get_session(OPENCODE_SESSION).turns[0].tool_calls) == 2


# ------------------------------------------------------------------------------------------ datasets

def import_dataset(store: Store, path: Path, fmt: str = "auto"):
    source = DatasetSource.for_path(path, fmt)
    return import_paths(store, source, source.discover(path))


def flatten_openai(messages):
    """(role, text, [(call id, name, arguments)]) and tool results, in order, from OpenAI messages."""
    out = []
    for m in messages:
        if m["role"] == "system":
            continue
        content = m.get("content")
        text = content if isinstance(content, str) else "\n".join(c["text"] for c in content or [])
        if m["role"] == "tool":
            out.append(("result", m["tool_call_id"], text))
            continue
        if text or m["role"] == "user" or not m.get("tool_calls"):
            out.append((m["role"], text))
        for c in m.get("tool_calls") or []:
            out.append(("call", c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])))
    return out


def flatten_session(session):
    out = []
    for turn in session.turns:
        for st in turn.steps:
            if st.kind == "message":
                out.append((st.role, st.text))
            else:
                out.append(("call", st.call_id, st.tool_name, st.input))
    results = {st.call_id: st.output for st in session.steps if st.kind == "tool_call"}
    return out, results


def test_openai_messages_round_trip_field_by_field(store: Store, tmp_path: Path) -> None:
    files = write_datasets(tmp_path / "ds")
    summary = import_dataset(store, files["openai"])
    assert summary.sessions == 2 and summary.skipped_lines == 0
    s = store.get_session("import-oa-1")
    assert s.source == "import" and s.meta["format"] == "openai" and s.meta["system_prompt"] == "You are a shell agent."
    expected = flatten_openai(OPENAI_RECORDS[0]["messages"])
    got, results = flatten_session(s)
    assert got == [x for x in expected if x[0] != "result"]
    assert {x[1]: x[2] for x in expected if x[0] == "result"} == results  # results paired by id, not order
    assert [t.prompt for t in s.turns] == ["Count the files", "And hidden ones?"]
    assert s.meta["tools"] == OPENAI_RECORDS[0]["tools"]
    assert shell_command(s.turns[0].tool_calls[0]) == "ls | wc -l"
    hashed = [r["id"] for r in store.list_sessions(source="import") if r["id"] != "import-oa-1"]
    assert len(hashed) == 1 and hashed[0].startswith("import-openai-")
    before = store.stats()
    assert import_dataset(store, files["openai"]).files_read == 0 and store.stats() == before


def test_sharegpt_round_trip_with_hermes_tool_calls(store: Store, tmp_path: Path) -> None:
    files = write_datasets(tmp_path / "ds")
    import_dataset(store, files["sharegpt"])
    s = store.get_session("import-sg-1")
    conv = SHAREGPT_RECORDS[0]["conversations"]
    assert s.meta["system_prompt"] == conv[0]["value"]
    assert [t.prompt for t in s.turns] == [conv[1]["value"], conv[5]["value"]]
    (df,), (date,) = s.turns[0].tool_calls, s.turns[1].tool_calls
    assert (df.tool_name, df.input, df.output) == ("bash", {"command": "df -h"}, "/dev/sda1 40%")
    assert (date.tool_name, date.input, date.output) == ("bash", {"command": "date"}, "Tue Nov 25")
    texts = [(st.role, st.text) for st in s.steps if st.kind == "message"]
    assert texts == [("user", conv[1]["value"]), ("assistant", "Checking."), ("assistant", "40% used."),
                     ("user", "Thanks"), ("assistant", conv[8]["value"])]


def test_adp_round_trip(store: Store, tmp_path: Path) -> None:
    files = write_datasets(tmp_path / "ds")
    import_dataset(store, files["adp"])
    s = store.get_session("import-adp-1")
    items = ADP_RECORDS[0]["content"]
    assert s.turns[0].prompt == items[0]["content"] and s.meta["details"] == {"task": "demo"}
    run, edit = s.turns[0].tool_calls
    assert (run.tool_name, run.input, run.output) == ("bash", {"command": "pytest -q"}, "1 failed")
    assert (edit.tool_name, edit.call_id, edit.input, edit.output) == ("edit_file", "t2", items[3]["kwargs"], "edited")
    final = s.turns[0].steps[-1]
    assert (final.role, final.text, final.thinking) == ("assistant", "Fixed the test.", "Done.")
    assert s.turns[0].steps[1].thinking == "Run the tests first."


def test_atif_round_trip_with_subagent_and_step_tokens(store: Store, tmp_path: Path) -> None:
    files = write_datasets(tmp_path / "ds")
    summary = import_dataset(store, files["atif"])
    assert summary.sessions == 2
    s = store.get_session("import-atif-main-1")
    assert s.agent_version == "terminus-2 2.0.0" and s.models == ["claude-sonnet-4-5"]
    assert s.meta["system_prompt"] == "You are terminus." and s.turns[0].prompt == "Make hello.txt"
    steps = s.turns[0].steps
    assert (steps[1].text, steps[1].thinking) == ("Creating it.", "echo into a file")
    assert steps[1].meta["metrics"] == {"prompt_tokens": 900, "completion_tokens": 60, "cached_tokens": 500,
                                        "cost_usd": 0.002}
    echo, summarize = s.turns[0].tool_calls
    assert (echo.tool_name, echo.call_id, echo.input, echo.output) == (
        "bash_command", "call_1", {"keystrokes": "echo hi > hello.txt\n"}, "$ ")
    assert summarize.meta["subagent_session_ids"] == ["import-atif-sub-1"]
    usage = s.turns[0].usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (400 + 1000 + 100, 1500, 85)
    sub = store.get_session("import-atif-sub-1")
    assert sub.parent_id == s.id and sub.turns[0].steps[-1].text == "Created hello.txt."
    assert store.child_session_ids(s.id) == ["import-atif-sub-1"]
    # A directory of trajectories: the subagent file is read through its parent, not on its own.
    from bashgym.sources.datasets import dataset_files

    assert dataset_files(files["atif"].parent) == [files["atif"]]


def test_parquet_and_saved_hf_dataset_import_like_jsonl(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": r.get("id", "noid"), "messages": json.dumps(r["messages"])} for r in OPENAI_RECORDS]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    assert detect_format(tmp_path / "train.parquet")[0] == "openai"
    assert import_dataset(store, tmp_path / "train.parquet").sessions == 2
    got, _ = flatten_session(store.get_session("import-oa-1"))
    assert got[0] == ("user", "Count the files")

    from datasets import Dataset

    Dataset.from_list([{"id": "hf-1", "conversations": SHAREGPT_RECORDS[0]["conversations"]}]).save_to_disk(
        str(tmp_path / "hf"))
    assert detect_format(tmp_path / "hf")[0] == "sharegpt"
    import_dataset(store, tmp_path / "hf")
    assert store.get_session("import-hf-1").turns[0].tool_calls[0].output == "/dev/sda1 40%"


@pytest.mark.parametrize("name", ["openai", "sharegpt", "adp", "atif"])
def test_auto_detection_picks_each_format(tmp_path: Path, name: str) -> None:
    files = write_datasets(tmp_path / "ds")
    fmt, why = detect_format(files[name])
    assert fmt == name and name in why


def test_unknown_shape_is_refused_naming_what_was_seen(tmp_path: Path) -> None:
    files = write_datasets(tmp_path / "ds")
    with pytest.raises(UnknownFormatError) as exc:
        detect_format(files["unknown"])
    assert "completion, label, prompt" in str(exc.value) and "unknown.jsonl:1" in str(exc.value)
    proc = subprocess.run([sys.executable, "-m", "bashgym.cli", "import", "file", str(files["unknown"])],
                          capture_output=True, text=True, env=os.environ.copy())
    assert proc.returncode == 1 and "unknown dataset shape" in proc.stderr and "prompt" in proc.stderr


def test_import_file_command_says_which_format_it_picked(tmp_path: Path) -> None:
    files = write_datasets(tmp_path / "ds")
    result = runner.invoke(app, ["import", "file", str(files["adp"])])
    assert result.exit_code == 0, result.output
    assert "format: adp (auto-detected" in result.output and "sessions" in result.output


def test_forced_format_reports_records_that_do_not_fit(store: Store, tmp_path: Path) -> None:
    files = write_datasets(tmp_path / "ds")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(files["openai"].read_text() + files["adp"].read_text())
    summary = import_dataset(store, mixed, "openai")
    assert summary.sessions == 2 and summary.skipped_lines == 1
    assert summary.errors[0][1] == 3 and "record is not openai" in summary.errors[0][2]


# ------------------------------------------------------------------------------------------ import all

def test_import_all_finds_every_source_under_home(isolated_home: Path, tmp_path: Path) -> None:
    day = isolated_home / ".codex" / "sessions" / "2026" / "11" / "25"
    day.mkdir(parents=True)
    for f in CODEX_FIXTURES.glob("rollout-*.jsonl"):
        shutil.copy(f, day / f.name)
    write_gemini(isolated_home / ".gemini" / "tmp")
    write_opencode(isolated_home / ".local" / "share" / "opencode" / "storage")
    result = runner.invoke(app, ["import", "all", "--json"])
    assert result.exit_code == 0, result.output
    report = {s["source"]: s for s in json.loads(result.output)["sources"]}
    assert set(report) == {"codex", "gemini", "opencode"}
    assert report["codex"]["sessions"] == 1 and report["opencode"]["sessions"] == 1
    assert report["gemini"]["sessions"] == 5
    table = runner.invoke(app, ["import", "all"])
    assert table.exit_code == 0 and "import all" in table.output and "opencode" in table.output
