"""The tiny locally built model (bashgym.train.tiny), built once per test process and shared."""

from __future__ import annotations

import tempfile
from pathlib import Path

_BUILT: Path | None = None


def tiny_model_dir() -> Path:
    global _BUILT
    if _BUILT is None:
        from bashgym.train.tiny import build_tiny_model

        _BUILT = build_tiny_model(Path(tempfile.mkdtemp(prefix="bashgym-tiny-")) / "tiny")
    return _BUILT
