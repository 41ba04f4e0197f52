"""Task families with generated instances: sound in the real sandbox, deterministic, held out for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from bashgym.factory.config import DecontaminateConfig
from bashgym.factory.decontaminate import Decontaminate, load_task_texts
from bashgym.factory.pipeline import Example
from bashgym.gym.instances import FAMILIES, family_of, generate, make_instance, write_suite
from bashgym.gym.protocol import make_env
from bashgym.gym.task import load_suite
from bashgym.schema import Session, Step, Turn


def _reward(task, command: str) -> float:
    env = make_env(task)
    try:
        env.reset(seed=0)
        env.step(command)
        _, reward, *_ = env.step("submit")
        return reward
    finally:
        env.close()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_reference_passes_and_the_mistake_fails(family: str, tmp_path: Path) -> None:
    inst = make_instance(family, 7)
    (task,) = load_suite(write_suite([inst], tmp_path / "suite"))
    assert task.id == inst.id and family_of(task.id) == family
    assert _reward(task, inst.solution) == 1.0
    assert _reward(task, inst.mistake) == 0.0, "the expert's mistake must fail the test"


def test_instances_are_deterministic_and_differ_in_names_and_answers() -> None:
    assert make_instance("count-level", 3) == make_instance("count-level", 3)
    a, b = make_instance("largest-file", 1), make_instance("largest-file", 2)
    assert a.instruction != b.instruction and a.files != b.files and a.test != b.test


def test_heldout_instances_never_repeat_a_practice_instance() -> None:
    practice = generate(6, seed=0)
    heldout = generate(4, seed=1, avoid=practice)
    assert len(practice) == 6 * len(FAMILIES) and len(heldout) == 4 * len(FAMILIES)
    assert not {i.instruction for i in practice} & {i.instruction for i in heldout}
    assert not {(i.family, frozenset(i.names)) for i in practice} & {(i.family, frozenset(i.names)) for i in heldout}


def _example(text: str) -> Example:
    turn = Turn(index=0, prompt=text, steps=[Step(kind="message", role="user", text=text)])
    session = Session(id="s", source="gym", turns=[turn])
    return Example(id="e", session=session, turns=[turn], root_id="s")


def test_decontamination_drops_a_heldout_instance_and_keeps_its_siblings(tmp_path: Path) -> None:
    """Instance-level decontamination: the held-out instance itself is dropped, another instance of the
    same family (same procedure, other names) is kept — with solutions left out of the match, since the
    family shares its procedure by design."""
    heldout = generate(1, seed=1)
    root = write_suite(heldout, tmp_path / "heldout")
    cfg = DecontaminateConfig(suite=str(root), solutions=False)
    decon = Decontaminate(cfg)
    assert len(decon.tasks) == len(heldout)  # instructions only
    sibling = generate(1, seed=0, avoid=heldout)
    for own, other in zip(heldout, sibling, strict=True):
        assert decon.filter(_example(own.instruction)) == (False, f"overlaps_task:{own.id}")
        assert decon.filter(_example(other.instruction)) is True, other.instruction
    with_solutions = load_task_texts(str(root))
    assert len(with_solutions) == 2 * len(heldout)  # the default still matches reference solutions
