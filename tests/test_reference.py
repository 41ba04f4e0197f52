"""docs/reference/ is generated from the config models: it must be what the generator writes today."""

from __future__ import annotations

from pathlib import Path

from bashgym.reference import render_all

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference"


def test_reference_pages_are_current() -> None:
    pages = render_all()
    stale = [name for name, text in pages.items()
             if not (REFERENCE / name).is_file() or (REFERENCE / name).read_text(encoding="utf-8") != text]
    extra = sorted(p.name for p in REFERENCE.glob("*.md") if p.name not in pages)
    assert not stale and not extra, (
        f"docs/reference is out of date ({stale or extra}): run `python -m bashgym.reference docs/reference`")


def test_every_config_key_is_in_the_reference() -> None:
    from pydantic import BaseModel

    from bashgym.factory.config import DatasetConfig
    from bashgym.judge.config import JudgeConfig, LlmConfig
    from bashgym.train.config import BASHGYM_KEYS

    pages = render_all()
    for name, f in DatasetConfig.model_fields.items():
        model = f.annotation
        keys = [f"{name}.{k}" for k in model.model_fields] if isinstance(model, type) and issubclass(
            model, BaseModel) else [name]
        for key in keys:
            assert f"| {key} |" in pages["dataset.md"], key
    for key in [*JudgeConfig.__dataclass_fields__, *(f"llm.{k}" for k in LlmConfig.__dataclass_fields__)]:
        assert f"| {key} |" in pages["judge.md"] or key == "llm", key
    for key in BASHGYM_KEYS:
        assert f"| {key} |" in pages["train.md"], key
    assert "| `--base-url` |" in pages["eval.md"] and "| `-k`, `--k` |" in pages["eval.md"]
