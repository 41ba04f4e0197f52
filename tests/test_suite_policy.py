"""How the suite treats a slow machine (pyproject.toml addopts): a test that fails only because a subprocess
ran past its timeout is rerun once and reported as a rerun; an assertion failure is never rerun, and a test
that times out twice fails. Checked by running pytest, with this project's configuration, on a test file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = '''
import subprocess
from pathlib import Path

def _attempt(name):
    counter = Path(__file__).with_name(name)
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    return n

def test_slow_once():
    if _attempt("slow_once") == 0:
        subprocess.run(["sleep", "5"], timeout=0.1)

def test_slow_always():
    _attempt("slow_always")
    subprocess.run(["sleep", "5"], timeout=0.1)

def test_wrong():
    _attempt("wrong")
    assert 1 == 2
'''


def test_only_a_subprocess_timeout_is_rerun_and_only_once(tmp_path: Path) -> None:
    (tmp_path / "test_cases.py").write_text(CASES)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
                           str(tmp_path), "-p", "no:xdist", "-p", "no:cacheprovider", "-q", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 1, out
    assert "2 failed, 1 passed, 2 rerun" in out, out
    assert "FAILED test_cases.py::test_slow_always" in out and "FAILED test_cases.py::test_wrong" in out
    attempts = {name: int((tmp_path / name).read_text()) for name in ("slow_once", "slow_always", "wrong")}
    assert attempts == {"slow_once": 2, "slow_always": 2, "wrong": 1}


def test_a_skip_fails_where_every_test_must_run(tmp_path: Path) -> None:
    """scripts/test.sh sets BASHGYM_NO_SKIPS=1 where it installed everything (as in CI): a skip is a failure."""
    import os
    import shutil

    shutil.copyfile(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_cases.py").write_text("import pytest\n\ndef test_needs_a_tool():\n"
                                           "    pytest.skip('the tool is missing')\n")
    run = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
           "-p", "no:xdist", "-p", "no:cacheprovider", "-q", str(tmp_path)]
    # the copied conftest imports the harness modules that sit beside it in tests/
    tests_dir = str(Path(__file__).parent)
    base = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))}
    strict = subprocess.run(run, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**base, "BASHGYM_NO_SKIPS": "1"})
    assert strict.returncode == 1 and "skipped where every test must run" in strict.stdout, strict.stdout
    lenient = subprocess.run(run, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env={k: v for k, v in base.items() if k != "BASHGYM_NO_SKIPS"})
    assert lenient.returncode == 0 and "1 skipped" in lenient.stdout, lenient.stdout
