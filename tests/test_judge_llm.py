"""The optional model judge against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import pytest

from bashgym.errors import BashgymError, ConfigError
from bashgym.judge.config import JudgeConfig, LlmConfig
from bashgym.judge.llm import grade_turn, parse_grade
from bashgym.judge.results import session_judgement
from bashgym.judge.runner import judge_store
from bashgym.schema import Session, Step, Turn
from harness.openai_server import ScriptedOpenAIServer, say


def _session() -> Session:
    steps = [Step(kind="tool_call", tool_name="Bash", input={"command": "pytest -q"}, output="3 passed in 0.1s",
                  exit_code=0), Step(kind="message", text="All tests pass.")]
    return Session("llm-1", "import", turns=[Turn(0, "make the tests pass", steps)])


def test_grade_turn_sends_rubric_and_trace_and_parses_the_grade() -> None:
    with ScriptedOpenAIServer(lambda body: say('Sure. ```json\n{"score": 7, "reason": "ran the tests"}\n```')) as srv:
        grade = grade_turn(_session().turns[0], LlmConfig(base_url=srv.url, model="judge-model"))
    assert (grade.score, grade.reason, grade.model) == (0.7, "ran the tests", "judge-model")
    body = srv.requests[0]
    assert body["model"] == "judge-model" and body["messages"][0]["role"] == "system"
    assert "pytest -q" in body["messages"][1]["content"] and "make the tests pass" in body["messages"][1]["content"]


def test_llm_grade_is_stored_as_its_own_scorer_and_shown_in_the_metrics(store) -> None:
    store.save_session(_session())
    config = JudgeConfig()
    with ScriptedOpenAIServer(lambda body: say('{"score": 0.4, "reason": "no edge cases"}')) as srv:
        config.llm.base_url, config.llm.model = srv.url, "m"
        summary = judge_store(store, config, use_llm=True)
    assert summary.llm_graded == 1
    llm_rows = store.scores("llm-1", "llm")
    assert [(r["turn_idx"], r["total"]) for r in llm_rows] == [(0, 0.4)]
    heuristic = store.scores("llm-1", "heuristic")
    turn0 = next(r for r in heuristic if r["turn_idx"] == 0)
    assert turn0["metrics"]["metrics"]["llm"]["value"] == 0.4
    assert turn0["metrics"]["metrics"]["llm"]["weight"] == 0.0  # shown, not counted by default
    assert turn0["tier"] == "gold"
    judged = session_judgement(store, "llm-1")
    assert judged["turns"][0]["llm"]["score"] == 0.4


def test_server_error_names_the_url() -> None:
    with ScriptedOpenAIServer(lambda body: (503, "overloaded")) as srv:
        with pytest.raises(BashgymError, match=r"answered HTTP 503.*overloaded"):
            grade_turn(_session().turns[0], LlmConfig(base_url=srv.url, model="m"))


def test_missing_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="llm.base_url and llm.model"):
        grade_turn(_session().turns[0], LlmConfig())


@pytest.mark.parametrize(
    ("reply", "score"),
    [('{"score": 10, "reason": "x"}', 1.0), ('{"score": 0.25}', 0.25), ('verdict: {"score": "6"} ok', 0.6)],
)
def test_parse_grade_accepts_0_to_10_and_0_to_1(reply: str, score: float) -> None:
    assert parse_grade(reply)[0] == score


def test_parse_grade_rejects_replies_without_a_score() -> None:
    with pytest.raises(BashgymError, match="no numeric 'score'"):
        parse_grade('{"grade": "A"}')
