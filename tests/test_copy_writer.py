"""The helper process that writes a build's Parquet and hf/ copies (factory/copy_writer.py): the same files as
this process writes, a clear error when it fails or dies, a fresh one after that, and none left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bashgym.errors import BashgymError
from bashgym.factory.copy_writer import CopyWriter
from bashgym.factory.split import SPLITS
from bashgym.factory.write import write_copies


def split_files(out: Path) -> dict[str, Path]:
    """Three split files of chat rows whose tool calls have arguments of different shapes."""
    out.mkdir(parents=True)
    rows = {
        "train": [{"id": f"t{i}", "messages": [
            {"role": "user", "content": f"list files {i}"},
            {"role": "assistant", "tool_calls": [{"type": "function", "function": {
                "name": "bash" if i % 2 else "read", "arguments": {"command": "ls"} if i % 2 else {"path": "a.py",
                                                                                               "limit": i}}}]},
            {"role": "tool", "content": "a.py\nb.py ünïcode"}], "score": i / 3} for i in range(5)],
        "validation": [{"id": "v0", "messages": [{"role": "user", "content": "hi"}], "score": 1.0}],
        "test": [],
    }
    paths = {}
    for name in SPLITS:
        paths[name] = out / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in rows[name]))
    return paths


def test_the_helper_writes_the_copies_this_process_writes(tmp_path: Path) -> None:
    from datasets import load_from_disk

    here = write_copies(split_files(tmp_path / "here"), tmp_path / "here", parquet=True, hf=True)
    helper = CopyWriter()
    try:
        there = helper.write(split_files(tmp_path / "there"), tmp_path / "there", parquet=True, hf=True)
        again = helper.write(split_files(tmp_path / "again"), tmp_path / "again", parquet=True, hf=False)
    finally:
        helper.close()
    assert here == there  # the same files, and Parquet files of the same bytes
    assert again == (here[0][:-1], here[1])  # the same helper serves the next build (no hf/ asked for)
    assert not (tmp_path / "again" / "hf").exists() and not (tmp_path / "there" / ".arrow").exists()
    for split in SPLITS:
        assert list(load_from_disk(str(tmp_path / "there" / "hf"))[split]) == \
            list(load_from_disk(str(tmp_path / "here" / "hf"))[split])
    assert helper.proc.returncode == 0 and helper.served == 2


def test_a_helper_that_was_never_asked_is_stopped_at_once() -> None:
    """A build that stops before its write (no examples left) must not wait at exit for the helper to finish
    importing `datasets`."""
    helper = CopyWriter()
    start = time.monotonic()
    helper.close()
    assert time.monotonic() - start < 1.0 and not helper.alive


def test_a_failed_or_killed_helper_is_a_clear_error(tmp_path: Path) -> None:
    helper = CopyWriter()
    try:
        missing = {name: tmp_path / f"{name}.jsonl" for name in SPLITS}
        with pytest.raises(BashgymError, match=r"writing the Parquet and hf/ copies failed: FileNotFoundError"):
            helper.write(missing, tmp_path, parquet=True, hf=True)
        assert helper.alive  # a failed request leaves it serving
        helper.proc.send_signal(signal.SIGKILL)
        helper.proc.wait()
        with pytest.raises(BashgymError, match=r"was killed by signal 9 before it was done .*run it again"):
            helper.write(split_files(tmp_path / "d"), tmp_path / "d", parquet=True, hf=True)
    finally:
        helper.stop()


SCRIPT = """
import os, sys, time
from bashgym.factory import copy_writer
first = copy_writer.copy_writer()
print(first.proc.pid, flush=True)
first.proc.kill(); first.proc.wait()
second = copy_writer.copy_writer()
assert second is not first and second.alive and copy_writer.copy_writer() is second
print(second.proc.pid, flush=True)
time.sleep(60)
"""


def test_a_dead_helper_is_replaced_and_none_outlives_its_build(tmp_path: Path) -> None:
    """The next build gets a fresh helper; a build killed outright (SIGKILL: no atexit) leaves no helper."""
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        first = int(proc.stdout.readline())
        second = int(proc.stdout.readline())
        assert first != second and _running(second)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 20
    while _running(second) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(second)


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")
