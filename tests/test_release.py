"""A release is one step away: `python -m build` makes an sdist and a wheel that `twine check` passes, and the
wheel alone (no checkout) runs bashgym with its bundled data: samples, gym tasks, the hook script, the UI."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_build_and_twine_check_pass_and_the_wheel_runs_alone(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(REPO)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheel, sdist = next(dist.glob("bashgym-*.whl")), next(dist.glob("bashgym-*.tar.gz"))
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and check.stdout.count("PASSED") == 2, check.stdout + check.stderr

    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("bashgym/capture/hook.py", "bashgym/gym/tasks/builtin/archive-gunzip-all/task.yaml",
                   "bashgym/train/tiny_corpus.txt"):
        assert needed in names, needed
    assert any(n.startswith("bashgym/samples/claude/") for n in names)
    assert any(n.startswith("bashgym/ui/") and n.endswith(".html") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(metadata).decode()

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    env = {**os.environ, "PYTHONPATH": str(unpacked)}  # the wheel's bashgym, not the checkout's
    where = subprocess.run([sys.executable, "-c", "import bashgym; print(bashgym.__file__)"], capture_output=True,
                           text=True, env=env, timeout=60)
    assert where.stdout.startswith(str(unpacked)), where.stdout + where.stderr
    listed = subprocess.run([sys.executable, "-m", "bashgym.cli", "gym", "list", "--json"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert listed.returncode == 0 and "archive-gunzip-all" in listed.stdout, listed.stderr
