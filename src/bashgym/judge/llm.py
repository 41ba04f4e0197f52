"""Optional model judge: ask an OpenAI-compatible endpoint to grade a turn against a rubric.

Stored as its own scorer ("llm") beside the heuristic score, so a model's opinion never silently replaces
the facts read from the trace; its weight in the heuristic total is `llm.weight` in the judge config
(0 by default: shown in `judge explain`, not counted). Standard library HTTP only: the base install has
no HTTP client, and one POST per turn needs none.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from bashgym.errors import BashgymError, ConfigError
from bashgym.judge.config import LlmConfig
from bashgym.schema import Turn, prompt_step, shell_command

SCORER = "llm"


@dataclass(slots=True)
class LlmGrade:
    score: float  # 0..1
    reason: str
    model: str
    raw: str
    usage: dict[str, int] = field(default_factory=dict)  # the endpoint's token counts, when it sends them


def render_turn(turn: Turn, max_chars: int = 12000) -> str:
    """The turn as plain text for the grader: prompt, each step numbered, outputs trimmed."""
    lines = [f"USER REQUEST:\n{turn.prompt}\n", "AGENT TRACE:"]
    prompt = prompt_step(turn)
    for i, s in enumerate(turn.steps):
        if s is prompt:
            continue  # shown once, as the request above
        if s.kind == "message":
            lines.append(f"[{i}] {s.role}: {s.text}")
        else:
            what = shell_command(s) or json.dumps(s.input, default=str)[:400]
            status = f" (exit {s.exit_code})" if s.exit_code is not None else (" (error)" if s.is_error else "")
            lines.append(f"[{i}] {s.tool_name}: {what}{status}")
            if s.output:
                out = s.output if len(s.output) <= 800 else s.output[:400] + "\n…\n" + s.output[-400:]
                lines.append("    " + out.replace("\n", "\n    "))
    text = "\n".join(lines)
    if len(text) > max_chars:
        half = max_chars // 2
        text = text[:half] + "\n…(trace trimmed)…\n" + text[-half:]
    return text


def parse_grade(content: str) -> tuple[float, str]:
    """Score in [0,1] and reason from the model's reply: JSON {"score", "reason"} (score 0..10 or 0..1),
    possibly inside a ``` fence or surrounded by prose.

    >>> parse_grade('{"score": 8, "reason": "tests pass"}')
    (0.8, 'tests pass')
    """
    match = re.search(r"\{.*\}", content, re.S)
    if not match:
        raise BashgymError(f"the model judge replied without a JSON object: {content[:200]!r}")
    try:
        data = json.loads(match.group(0))
        score = float(data["score"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BashgymError(f"the model judge's reply has no numeric 'score': {content[:200]!r} ({exc})") from None
    if score > 1.0:
        score /= 10.0
    return max(0.0, min(1.0, score)), str(data.get("reason") or "")


def grade_turn(turn: Turn, config: LlmConfig) -> LlmGrade:
    """POST the rubric and the rendered turn to `{base_url}/chat/completions`; parse the grade."""
    if not config.base_url or not config.model:
        raise ConfigError(
            "the model judge needs llm.base_url and llm.model in the judge config "
            "(e.g. `llm: {base_url: http://127.0.0.1:8000/v1, model: my-model}` in $BASHGYM_HOME/judge.yaml)"
        )
    body = {
        "model": config.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": config.rubric},
            {"role": "user", "content": render_turn(turn, config.max_chars)},
        ],
    }
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(config.api_key_env or "")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = config.base_url.rstrip("/") + "/chat/completions"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise BashgymError(f"model judge at {url} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise BashgymError(f"cannot reach the model judge at {url}: {exc}; check llm.base_url") from None
    except json.JSONDecodeError:
        raise BashgymError(f"model judge at {url} did not answer JSON") from None
    try:
        content = payload["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise BashgymError(f"model judge at {url} answered without choices[0].message.content") from None
    score, reason = parse_grade(content)
    usage = {k: int(v) for k, v in (payload.get("usage") or {}).items() if isinstance(v, int)}
    return LlmGrade(score, reason, str(payload.get("model") or config.model), content, usage)
