"""What every `make_<agent>_fixtures.py` does around its scenario: run it once in a temporary HOME, then copy the
files the CLI wrote (exactly as it left them) into the fixture directory."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def copy_recorded(out: Path, root: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Copy the files under `root` matching any glob of `patterns` to `out`, at the same relative paths;
    print and return the copies."""
    copied = []
    for path in sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()}):
        target = out / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        print(target)
        copied.append(target)
    return copied


def record(out: Path, cli: Any, scenario: Callable[[Any, Path, Path], object], root: Callable[[Path], Path],
           patterns: tuple[str, ...], *, needs: str) -> list[Path]:
    """Run `scenario(cli, home, work)` in a fresh temporary HOME and copy what it recorded under `root(home)`
    (the files matching `patterns`) to `out`. `cli` is None when npm is missing: then exit naming `needs`."""
    if cli is None:
        raise SystemExit(f"npm is needed to install {needs}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        scenario(cli, home, Path(tmp) / "work")
        return copy_recorded(out, root(home), patterns)
