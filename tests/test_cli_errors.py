"""Every command meets ordinary mistakes with one clear `error:` line, never a traceback.

The matrix walks the real command tree (a command added later is covered without editing this file) and
runs each command through `bashgym.cli.main` — the console script's own error handling — with bad inputs:
a file where the home directory goes, ids and paths that do not exist, words where numbers go, config files
that are missing, not YAML, or YAML with wrong keys. The cases the issue named run as real subprocesses.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer

from bashgym import cli

BAD_YAML = "key: [unclosed\n"
WRONG_KEYS = "tier: [gold]\nsegment: window\nlearning_rat: 2\n"


def _leaves() -> list[tuple[list[str], Any]]:
    """(path, command) for every command and group, in the order of `bashgym --help` (typer's own click)."""
    root = typer.main.get_command(cli.app)
    out: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        if path:
            out.append((path, cmd))
        if hasattr(cmd, "list_commands"):
            ctx = typer.Context(cmd)
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])

    walk(root, [])
    return out


def _type_name(param: Any) -> str:
    return param.bare_type() if hasattr(param, "bare_type") else getattr(param.type, "name", "")


def _cases() -> tuple[list[pytest.param], set[str]]:
    """Bad inputs per command, each alone, and the commands they cover. `@FILE` / `@YAML:x` are filled in
    by the test (a regular file; a missing, broken or wrong-keyed YAML file)."""
    cases, covered = [], set()

    def case(name: str, args: list[str], label: str, yaml_text: str | None = None) -> None:
        cases.append(pytest.param(args, yaml_text, id=f"{name}-{label}"))
        covered.add(name)

    for path, cmd in _leaves():
        name = " ".join(path)
        args = [p for p in cmd.params if p.param_type_name == "argument"]
        opts = {o: p for p in cmd.params if p.param_type_name == "option" for o in p.opts}
        # Positional arguments: something that does not exist (a file where a directory goes).
        filler = ["@FILE" if "dir" in (a.name or "") or "out" in (a.name or "") else "nope-404" for a in args]
        case(name, path + ["--no-such-flag"], "unknown-flag")
        if args:
            case(name, path + filler, "missing-args")
        if "--home" in opts:
            case(name, path + filler + ["--home", "@FILE"], "home-is-a-file")
        for flag, param in opts.items():
            if not flag.startswith("--") or param.is_flag or flag in ("--home", "--help"):
                continue
            if _type_name(param) in ("int", "integer", "float"):
                case(name, path + filler + [flag, "abc"], f"{flag}-not-a-number")
            elif flag == "--config":
                for label, text in (("missing", None), ("not-yaml", BAD_YAML), ("wrong-keys", WRONG_KEYS)):
                    case(name, path + filler + [flag, f"@YAML:{label}"], f"config-{label}", text)
    return cases, covered


CASES, COVERED = _cases()


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`bashgym ARGS` in this process, through main() exactly as the console script runs it."""
    monkeypatch.setattr(sys, "argv", ["bashgym", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capfd.readouterr()
    return code, out + err


def test_the_matrix_covers_every_command() -> None:
    assert {" ".join(p) for p, _ in _leaves()} <= COVERED
    assert len(CASES) > 100


@pytest.mark.parametrize(("args", "yaml_text"), CASES)
def test_bad_input_gives_a_message_not_a_traceback(
    args: list[str], yaml_text: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("not a directory\n")
    filled = []
    for a in args:
        if a == "@FILE":
            a = str(afile)
        elif a.startswith("@YAML:"):
            label = a.split(":", 1)[1]
            a = str(tmp_path / f"{label}.yaml")
            if yaml_text is not None:
                Path(a).write_text(yaml_text)
        filled.append(a)
    code, output = run_main(filled, monkeypatch, capfd)
    assert "Traceback" not in output, output
    assert code != 0 or "error" not in output.lower(), f"printed an error but exited 0:\n{output}"
    if code == 1:  # bashgym's own errors: one line, starting `error:`, that says something
        lines = [line for line in output.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and len(lines[0]) > 20, output


# The cases the issue reported, as real processes.

def bashgym(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def test_home_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for args in (["sessions", "list"], ["demo"]):
        err = one_error_line(bashgym(*args, "--home", "afile", cwd=tmp_path))
        assert f"{tmp_path / 'afile'} is a file, not a directory" in err and "--home" in err


def test_bad_base_model_path_says_so_and_records_no_run(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    err = one_error_line(bashgym("train", "sft", "--base-model", "./nope", "--dataset", str(data), cwd=tmp_path))
    assert "no model directory at ./nope" in err and "bashgym model tiny" in err
    runs = bashgym("runs", "list", "--json", cwd=tmp_path)
    assert runs.returncode == 0 and json.loads(runs.stdout) == []


def test_hub_id_not_in_the_cache_fails_at_once_saying_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")  # offline by network, not by setting: what made it retry for a minute
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    started = time.monotonic()
    err = one_error_line(bashgym("train", "sft", "--base-model", "Qwen/Qwen2.5-Coder-0.5B-Instruct",
                                 "--dataset", "ds-x-v1", cwd=tmp_path))
    assert time.monotonic() - started < 30
    assert "'Qwen/Qwen2.5-Coder-0.5B-Instruct' is not on this machine" in err
    assert "hf download Qwen/Qwen2.5-Coder-0.5B-Instruct" in err


def test_train_without_options_prints_only_the_error(tmp_path: Path) -> None:
    proc = bashgym("train", "sft", cwd=tmp_path)
    assert one_error_line(proc).startswith("error: no base_model") and proc.stdout == ""


def test_the_executable_exits_with_the_commands_status_after_threads_and_atexit_handlers(tmp_path: Path) -> None:
    """`bashgym` skips the interpreter's teardown (native thread pools can abort there, exit -6) but not what a
    normal exit finishes: a non-daemon thread's last write, an atexit handler, buffered stdout, the status."""
    code = ("import atexit, sys, threading, time\n"
            "from bashgym import cli\n"
            "out = open(sys.argv[1], 'w')\n"
            "atexit.register(lambda: (out.write('atexit\\n'), out.close()))\n"
            "threading.Thread(target=lambda: (time.sleep(0.3), out.write('thread\\n'))).start()\n"
            "sys.stdout.write('buffered, not yet flushed')\n"
            "sys.argv = ['bashgym', *sys.argv[2:]]\n"
            "cli.console()\n"
            "print('not reached')\n")
    marks = tmp_path / "marks"
    refused = subprocess.run([sys.executable, "-c", code, str(marks), "sessions", "show", "no-such-id"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "error:" in refused.stderr and "Traceback" not in refused.stderr
    assert refused.stdout == "buffered, not yet flushed"
    assert marks.read_text() == "thread\natexit\n"
    ok = subprocess.run([sys.executable, "-c", code, str(marks), "--version"], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("buffered, not yet flushedbashgym "), ok
    usage = subprocess.run([sys.executable, "-m", "bashgym.cli", "no-such-command"], capture_output=True,
                           text=True, timeout=120)
    assert usage.returncode == 2 and "No such command" in usage.stderr


def test_the_executable_exits_normally_under_a_profiler_so_it_can_write_its_results(tmp_path: Path) -> None:
    """`python -m cProfile -o FILE -m bashgym.cli ...` writes FILE after the command returns: no early exit then."""
    out = tmp_path / "cli.prof"
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "bashgym.cli", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "bashgym" in proc.stdout, proc.stderr
    import pstats

    assert pstats.Stats(str(out)).total_calls > 0
