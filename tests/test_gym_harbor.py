"""Harbor / terminal-bench 2 tasks run unchanged and offline (issue 28): the tb2-style fixture set checks out
end to end, the offline uv/uvx/curl/apt-get stand-ins, ctrf.json per-test results, WORKDIR below /app, and
`gym check`/`gym list` judging each task directory on its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bashgym.errors import ConfigError
from bashgym.gym.check import check_tasks
from bashgym.gym.sandbox import Sandbox, SandboxError, detect_layer, read_ctrf
from bashgym.gym.task import load_suite, load_task, scan_suite

FIXTURES = Path(__file__).parent / "fixtures" / "gym"
TB2 = FIXTURES / "tb2"
needs_bwrap = pytest.mark.skipif(detect_layer().name != "bubblewrap",
                                 reason="Harbor tasks need /app, /tests and /logs: the bubblewrap layer")


def gym(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", "gym", *args], capture_output=True, text=True,
                          timeout=300)


def test_tb2_fixture_set_is_written_in_the_common_terminal_bench_2_style():
    tasks = load_suite(TB2)
    assert len(tasks) >= 10 and all(t.format == "harbor" for t in tasks)
    scripts = [(t.tests / "test.sh").read_text() for t in tasks]
    assert all("--ctrf /logs/verifier/ctrf.json" in s for s in scripts)
    assert sum("astral.sh/uv" in s and "| sh" in s for s in scripts) >= 6
    assert sum("uvx" in s for s in scripts) >= 4 and sum("uv run" in s for s in scripts) >= 2
    assert {t.workdir for t in tasks} >= {"/app", "/app/repo", "/app/project", "/app/service"}


@pytest.mark.slow
@needs_bwrap
def test_tb2_fixture_set_checks_out_end_to_end_offline():
    """Every task's reference passes and its empty attempt fails, test files untouched, no network: the
    ctrf.json each wrote comes back per test."""
    tasks = load_suite(TB2)
    results = check_tasks(tasks, workers=4)
    problems = {r.task.id: r.problem or r.infra for r in results if not r.ok or r.infra}
    assert not problems, problems
    for r in results:
        assert r.reference.tests and all(t["status"] == "passed" for t in r.reference.tests), r.task.id
        assert any(t["status"] == "failed" for t in r.empty.tests), r.task.id
    partial = next(r for r in results if r.task.id == "config-keys")  # reward.json from the ctrf counts
    assert partial.empty.reward == pytest.approx(1 / 3) and "failed: test_outputs.py::test_debug_off" in \
        partial.empty.reason


@needs_bwrap
def test_offline_shims_resolve_local_tools_and_refuse_what_is_not_installed():
    with Sandbox() as box:
        installer = box.run("curl -LsSf https://astral.sh/uv/install.sh | sh && . $HOME/.local/bin/env && "
                            "command -v uvx")
        assert installer.exit_code == 0 and "nothing downloaded" in installer.output, installer.output
        version = box.run("uvx -p 3.13 -w pytest-json-ctrf==0.3.5 pytest==8.4.1 --version")
        assert version.exit_code == 0 and "pytest" in version.output
        assert "pytest==8.4.1 requested, using pytest" in version.output
        missing = box.run("uvx -w no-such-package-xyz pytest --version")
        assert missing.exit_code == 2 and "not installed in the sandbox's Python" in missing.output
        assert "no-such-package-xyz" in missing.output
        venv = box.run("uv venv .v && . .v/bin/activate && uv pip install pytest && uv run python -c "
                       "'import ctrf' ; echo rc=$?")
        assert "rc=0" in venv.output, venv.output
        pip = box.run("pip install -q pytest==8.4.1 pytest-json-ctrf; echo rc=$?; pip3 install no-such-package-xyz;"
                      " echo rc=$?")
        assert "rc=0" in pip.output and "rc=2" in pip.output and "no-such-package-xyz" in pip.output, pip.output
        local = box.run("mkdir -p p/m && printf '[project]\\nname = \"m\"\\nversion = \"1\"\\n' > p/pyproject.toml"
                        " && pip install --no-build-isolation --no-deps ./p; echo rc=$?")
        assert "Processing ./p" in local.output and "offline" not in local.output  # the real pip builds it
        apt = box.run("apt-get update && apt-get install -y bash coreutils; echo rc=$?; "
                      "apt-get install -y no-such-deb-xyz; echo rc=$?")
        assert "rc=0" in apt.output and "rc=100" in apt.output and "no-such-deb-xyz" in apt.output
        other = box.run("curl -sS --max-time 5 https://example.com/x; echo rc=$?")
        assert "rc=0" not in other.output  # every other URL goes to the real curl, which has no network


@needs_bwrap
def test_workdir_below_app_is_where_commands_start_and_others_are_refused():
    with Sandbox(workdir="/app/repo") as box:
        assert box.run("pwd").output.strip() == "/app/repo"
        assert box.workdir == "/app/repo"
    with pytest.raises(SandboxError, match="not /app or a directory below it"):
        Sandbox(workdir="/etc")
    task = load_task(TB2 / "fix-calc")
    assert task.workdir == "/app/repo" and [dest for _, dest in task.copies] == ["repo/calc.py"]


def _bad_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "tasks"
    suite.mkdir()
    shutil.copytree(FIXTURES / "harbor" / "word-count", suite / "good")
    no_tests = suite / "no-tests"
    shutil.copytree(FIXTURES / "harbor" / "word-count", no_tests)
    shutil.rmtree(no_tests / "tests")
    elsewhere = suite / "elsewhere"
    shutil.copytree(FIXTURES / "harbor" / "word-count", elsewhere)
    (elsewhere / "environment" / "Dockerfile").write_text("FROM ubuntu:24.04\nWORKDIR /srv/app\n")
    wrong = suite / "wrong-solution"
    shutil.copytree(FIXTURES / "harbor" / "word-count", wrong)
    (wrong / "solution" / "solve.sh").write_text("#!/bin/bash\necho 3 > count.txt\n")
    (wrong / "tests" / "test.sh").write_text("#!/bin/bash\necho counted: $(cat /app/count.txt) MARKER-TAIL\n"
                                              + (wrong / "tests" / "test.sh").read_text().split("\n", 1)[1])
    java = suite / "java-build"
    shutil.copytree(FIXTURES / "harbor" / "word-count", java)
    (java / "environment" / "Dockerfile").write_text(
        "FROM registry.example/zig-toolchain:0.13\nRUN apt-get update && apt-get install -y --no-install-recommends \\\n"
        "    bash no-such-deb-xyz && rm -rf /var/lib/apt/lists/*\nWORKDIR /app\n")
    (suite / "README.md").write_text("# my tasks\n")
    return suite


def test_scan_suite_judges_each_directory_on_its_own(tmp_path: Path):
    suite = _bad_suite(tmp_path)
    tasks, bad = scan_suite(suite)
    assert sorted(t.path.name for t in tasks) == ["good", "java-build", "wrong-solution"]
    why = {p.name: w for p, w in bad}
    assert set(why) == {"no-tests", "elsewhere"}
    assert "tests/test.sh is missing" in why["no-tests"]
    assert "WORKDIR /srv/app" in why["elsewhere"] and "needs Docker" in why["elsewhere"]
    with pytest.raises(ConfigError):
        load_suite(suite)  # the strict loader still refuses a broken suite
    java = next(t for t in tasks if t.path.name == "java-build")
    assert java.needs == "needs image registry.example/zig-toolchain:0.13 / packages no-such-deb-xyz"
    assert next(t for t in tasks if t.path.name == "good").needs == ""
    gcc = tmp_path / "gcc-task"
    shutil.copytree(FIXTURES / "harbor" / "word-count", gcc)
    (gcc / "environment" / "Dockerfile").write_text("FROM gcc:13\nWORKDIR /app\n")
    # a toolchain image the host stands in for when it has the compiler
    assert load_task(gcc).needs == ("" if shutil.which("gcc") else "needs image gcc:13")


def test_list_reports_bad_directories_beside_the_good_ones(tmp_path: Path):
    proc = gym("list", str(_bad_suite(tmp_path)), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(proc.stdout)}
    assert set(rows) == {"good", "java-build", "wrong-solution", "no-tests", "elsewhere"}
    assert "tests/test.sh is missing" in rows["no-tests"]["error"]
    assert rows["java-build"]["needs"].startswith("needs image registry.example/zig-toolchain")


@needs_bwrap
def test_check_skips_bad_dirs_ignores_files_and_reports_the_verifier_output_tail(tmp_path: Path):
    suite = _bad_suite(tmp_path)
    proc = gym("check", "--json", *sorted(str(p) for p in suite.iterdir()))  # `gym check tasks/*`
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    rows = {Path(r["path"]).name: r for r in report["results"]}
    assert rows["good"]["ok"] is True
    assert rows["java-build"]["ok"] is True and rows["java-build"]["needs"].startswith("needs image")
    assert report["skipped"] == 1
    wrong = rows["wrong-solution"]
    assert wrong["ok"] is False and wrong["reference"] == "fail"
    assert "verifier output" in wrong["problem"] and "counted: 3 MARKER-TAIL" in wrong["problem"]
    assert "counted: 3 MARKER-TAIL" in wrong["reference_output"]
    invalid = {Path(i["path"]).name: i["problem"] for i in report["invalid"]}
    assert set(invalid) == {"no-tests", "elsewhere"} and report["broken"] == 3


def test_ctrf_is_read_under_the_dirfd_and_a_planted_symlink_is_refused(tmp_path: Path):
    (tmp_path / "verifier").mkdir()
    report = {"results": {"tests": [{"name": "t::a", "status": "passed"}, {"name": "t::b", "status": "failed"}]}}
    (tmp_path / "verifier" / "ctrf.json").write_text(json.dumps(report))
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_ctrf(fd) == ([{"name": "t::a", "status": "passed"}, {"name": "t::b", "status": "failed"}], "")
        secret = tmp_path / "secret.json"
        secret.write_text(json.dumps(report))
        (tmp_path / "verifier" / "ctrf.json").unlink()
        (tmp_path / "verifier" / "ctrf.json").symlink_to(secret)
        tests, why = read_ctrf(fd)
        assert tests == [] and "not a regular file" in why
        (tmp_path / "verifier" / "ctrf.json").unlink()
        (tmp_path / "verifier" / "ctrf.json").write_text("{not json")
        assert read_ctrf(fd)[1].startswith("/logs/verifier/ctrf.json is not a CTRF report")
    finally:
        os.close(fd)
