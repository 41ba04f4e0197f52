"""Record the judge's calibration set with the real Claude Code CLI (scripted model on 127.0.0.1).

    python tests/harness/make_judge_calibration.py tests/fixtures/judge_calibration

Writes OUT/projects/... exactly as the CLI left them and OUT/labels.json: per session id, the case's name,
pattern, expected tier, the tiers a reviewer accepts, whether it is a clear case and whether it cheats, and
the reason. The cases live in judge_scenarios.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.anthropic_server import ScriptedAnthropicServer  # noqa: E402
from harness.claude_cli import CLAUDE_PACKAGE, npm_bin, run_claude  # noqa: E402
from harness.judge_scenarios import Case, markers  # noqa: E402
from harness.make_claude_fixtures import _session_id  # noqa: E402


def record(claude: Path, marker: str, case: Case, home: Path, work_root: Path) -> str:
    """Run one case (and its follow-ups via --resume) in a fresh workspace; returns its session id."""
    work = work_root / case.name
    work.mkdir(parents=True)
    for name, content in case.files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(content)
    for command in case.setup:
        subprocess.run(command, shell=True, cwd=work, check=True, capture_output=True)
    with ScriptedAnthropicServer(case.script(marker, work)) as server:
        result = run_claude(claude, f"{marker} {case.prompt}", home=home, cwd=work, base_url=server.url)
        session_id = _session_id(result.stdout)
        for followup in case.followups:
            run_claude(claude, followup, home=home, cwd=work, base_url=server.url, extra_args=["--resume", session_id])
    return session_id


def main(out: Path) -> None:
    claude = npm_bin(CLAUDE_PACKAGE, "claude")
    if claude is None:
        raise SystemExit("npm is needed to install the Claude Code CLI")
    labels = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        work_root = Path(tmp) / "work"
        for marker, case in markers():
            sid = record(claude, marker, case, home, work_root)
            labels[sid] = {"case": case.name, "pattern": case.pattern, "expected": case.expected,
                           "accept": case.accept, "clear": case.clear, "cheating": case.cheating,
                           "reason": case.reason}
            print(f"recorded {marker} {case.name} → {sid}")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(home / ".claude" / "projects", out / "projects")
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    print(f"{len(labels)} sessions in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
