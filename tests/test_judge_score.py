"""Scoring: metrics → total → tier, config from YAML, caps, evidence, and calibration against labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from bashgym.errors import ConfigError
from bashgym.judge.config import JudgeConfig, config_from_dict, load_config, write_default_config
from bashgym.judge.score import Metric, score_session, score_turn
from bashgym.schema import Session, Step, Turn
from judge_cases import calibration_cases

EXPECTED = {"good": ("gold", "silver"), "bad": ("failed",)}


def sh(command: str, output: str = "", code: int = 0) -> Step:
    return Step(kind="tool_call", tool_name="Bash", input={"command": command}, output=output, exit_code=code)


def say(text: str) -> Step:
    return Step(kind="message", role="assistant", text=text)


def test_calibration_agrees_with_labels_on_clear_cases() -> None:
    cases = calibration_cases()
    assert len(cases) >= 40 and all(c["reason"] for c in cases)
    config = JudgeConfig()
    agree, clear, misses = 0, 0, []
    for c in cases:
        _, turns = score_session(Session.from_dict(c["session"]), config)
        tier = turns[c["turn"]].tier
        if c["label"] in EXPECTED:
            clear += 1
            if tier in EXPECTED[c["label"]]:
                agree += 1
            else:
                misses.append(f"{c['id']} labelled {c['label']} got {tier}: {c['reason']}")
    print(f"calibration agreement on clear cases: {agree}/{clear} = {agree / clear:.1%}")
    assert clear >= 30
    assert agree / clear >= 0.90, misses


def test_total_is_the_weighted_mean_of_present_metrics() -> None:
    t = Turn(0, "go", [sh("ls"), sh("make", "error", 2), sh("make"), say("Built.")])
    j = score_turn(t, None, JudgeConfig())
    assert "tests" not in j.metrics  # no test ran: left out, not punished
    m = j.metrics
    expected = sum(x.weight * x.value for x in m.values()) / sum(x.weight for x in m.values())
    assert j.total == pytest.approx(expected, abs=1e-4)
    assert m["tool_success"].value == pytest.approx(2 / 3, abs=1e-3)
    assert m["tool_success"].evidence[0].step == 1
    assert j.drivers[0] == "tool_success"
    assert 0 <= j.total <= 1


def test_failed_last_test_run_caps_the_tier_and_says_so() -> None:
    t = Turn(0, "fix", [sh("pytest -q", "1 failed, 3 passed in 0.1s", 1), say("Fixed it.")])
    j = score_turn(t, None, JudgeConfig())
    assert j.tier == "failed" and j.total <= 0.59
    assert any(c.startswith("tests=0.00 caps") for c in j.caps)
    assert "1 failed, 3 passed" in j.metrics["tests"].evidence[0].text


def test_verify_outweighs_and_a_failed_verify_caps() -> None:
    t = Turn(0, "fix", [sh("pytest -q", "3 passed in 0.1s"), say("Done.")])
    ok = score_turn(t, None, JudgeConfig(), verified=Metric("verify", 1.0, 0, "re-ran: passed"))
    bad = score_turn(t, None, JudgeConfig(), verified=Metric("verify", 0.0, 0, "re-ran: failed"))
    assert ok.tier == "gold" and ok.metrics["verified"].weight == 4.0
    assert bad.tier == "failed" and "verified" in bad.drivers


def test_thresholds_and_weights_come_from_the_config_file(tmp_path: Path) -> None:
    t = Turn(0, "go", [sh("ls"), sh("make", "error", 2), sh("make"), say("Built.")])
    default = score_turn(t, None, JudgeConfig())
    path = tmp_path / "judge.yaml"
    path.write_text("tiers: {gold: 0.99, silver: 0.98}\nweights: {tool_success: 20}\n")
    strict = load_config(path)
    assert strict.tiers == {"gold": 0.99, "silver": 0.98, "bronze": 0.60}
    j = score_turn(t, None, strict)
    assert j.total < default.total and j.tier != default.tier


def test_default_config_file_round_trips(tmp_path: Path) -> None:
    path = write_default_config(tmp_path / "judge.yaml")
    assert load_config(path).to_dict() == JudgeConfig().to_dict()
    assert "# Metrics:" in path.read_text()


def test_home_judge_yaml_is_used_when_present(isolated_home: Path) -> None:
    (isolated_home / ".bashgym").mkdir(exist_ok=True)
    (isolated_home / ".bashgym" / "judge.yaml").write_text("focus_steps: 7\n")
    assert load_config().focus_steps == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weigths": {}}, 'unknown key \'weigths\' in judge config (did you mean "weights"?)'),
        ({"weights": {"test": 1}}, '(did you mean "tests"?)'),
        ({"weights": {"tests": "high"}}, "weights.tests: got 'high', expected a number (in judge config)"),
        ({"tiers": {"gold": 0.5, "silver": 0.7}}, "bronze <= silver <= gold"),
        ({"llm": {"modle": "x"}}, '(did you mean "model"?)'),
        ({"caps": {"tests": {"max": 0.5}}}, "unknown key 'max'"),
    ],
)
def test_config_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    assert message in str(err.value)


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_a_cap_can_be_removed() -> None:
    t = Turn(0, "fix", [sh("pytest -q", "1 failed, 30 passed in 0.1s", 1), say("Mostly fixed.")])
    relaxed = config_from_dict({"caps": {"tests": None}})
    assert score_turn(t, None, relaxed).total > score_turn(t, None, JudgeConfig()).total


def test_session_score_weights_working_turns_more() -> None:
    good = Turn(0, "fix", [sh("pytest -q", "3 passed in 0.1s"), sh("ls"), sh("ls -a"), say("Done.")])
    chat = Turn(1, "thanks", [])
    sj, turns = score_session(Session("s", "import", turns=[good, chat]), JudgeConfig())
    assert [t.tier for t in turns] == ["gold", "failed"]
    assert sj.total > 0.8 and sj.turn_idx == -1
    assert "worst turn 1" in sj.metrics["completion"].note


def test_empty_session_is_failed_with_a_reason() -> None:
    sj, turns = score_session(Session("s", "import"), JudgeConfig())
    assert turns == [] and sj.tier == "failed" and sj.caps == ["the session has no turns"]
