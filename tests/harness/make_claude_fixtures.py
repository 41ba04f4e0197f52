"""Record real Claude Code CLI transcripts for the scripted scenarios.

    python tests/harness/make_claude_fixtures.py OUT_DIR [--more]

Writes OUT_DIR/projects/... exactly as the CLI left them (subagent files and meta.json included). The
committed copies live in tests/fixtures/claude/ and src/bashgym/samples/claude/; with --more, the
MORE_SCENARIOS (compaction, parallel calls) are recorded instead, for tests/fixtures/claude_more/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.anthropic_server import ScriptedAnthropicServer  # noqa: E402
from harness.claude_cli import CLAUDE_PACKAGE, npm_bin, run_claude  # noqa: E402
from harness.scenarios import MORE_SCENARIOS, SCENARIOS, Scenario  # noqa: E402


def run_scenario(claude: Path, scenario: Scenario, home: Path, work_root: Path) -> tuple[Path, list[str]]:
    """Run one scenario (and its follow-ups via --resume); returns its workspace and the CLI outputs."""
    work = work_root / scenario.name
    work.mkdir(parents=True, exist_ok=True)
    for name, content in scenario.files.items():
        (work / name).write_text(content)
    outputs = []
    with ScriptedAnthropicServer(scenario.script(work)) as server:
        result = run_claude(claude, scenario.prompt, home=home, cwd=work, base_url=server.url)
        outputs.append(result.stdout)
        session_id = _session_id(result.stdout)
        for followup in scenario.followups:
            result = run_claude(claude, followup, home=home, cwd=work, base_url=server.url,
                                extra_args=["--resume", session_id])
            outputs.append(result.stdout)
    return work, outputs


def _session_id(stream_json: str) -> str:
    import json

    for line in stream_json.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if obj.get("session_id"):
            return obj["session_id"]
    raise RuntimeError("the CLI printed no session_id")


def main(out: Path, scenarios: list[Scenario] = SCENARIOS) -> None:
    claude = npm_bin(CLAUDE_PACKAGE, "claude")
    if claude is None:
        raise SystemExit("npm is needed to install the Claude Code CLI")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        work_root = Path(tempfile.mkdtemp(prefix="bashgym-scenarios-"))
        for scenario in scenarios:
            run_scenario(claude, scenario, home, work_root)
            print(f"recorded {scenario.name}")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(home / ".claude" / "projects", out / "projects")
    print(f"transcripts in {out / 'projects'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), MORE_SCENARIOS if "--more" in sys.argv[2:] else SCENARIOS)
