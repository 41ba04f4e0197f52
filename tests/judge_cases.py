"""Loads the judge's calibration builder (tests/fixtures/judge/build_calibration.py) and its JSONL, so
judge tests share the same real-looking runner outputs and labelled turns."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

JUDGE_FIXTURES = Path(__file__).parent / "fixtures" / "judge"


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("judge_build_calibration", JUDGE_FIXTURES / "build_calibration.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


builder = _load_builder()


def calibration_cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (JUDGE_FIXTURES / "calibration.jsonl").read_text().splitlines() if line]
