"""Record a real mini-swe-agent trajectory for the fixtures.

    python tests/harness/make_mini_swe_agent_fixtures.py OUT_DIR

Runs the real `mini` (PyPI `mini-swe-agent`, the version pinned in the `dev` extra) headless against the
scripted chat-completions server in a temporary HOME: the scenario of tests/test_mini_swe_agent_cli_e2e.py
(count lines, a `sed -i` edit, a failing `cat`, submit), and copies the trajectory it wrote to
OUT_DIR/last_mini_run.traj.json exactly as the agent left it. The committed copy is
tests/fixtures/mini_swe_agent/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.mini_swe_agent_cli import config_dir, mini_bin, run_mini  # noqa: E402
from harness.openai_server import ScriptedOpenAIServer  # noqa: E402
from test_mini_swe_agent_cli_e2e import MODEL, TASK, reply  # noqa: E402


def record(out: Path) -> Path:
    """Run the scenario and copy the trajectory into out; raises with the agent's output when it fails."""
    mini = mini_bin()
    if mini is None:
        raise SystemExit("mini-swe-agent is needed: pip install -e '.[dev]'")
    with tempfile.TemporaryDirectory() as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        (work / "notes.txt").write_text("line one\nTODO: greet\n")
        with ScriptedOpenAIServer(reply) as server:
            result = run_mini(mini, TASK, home=home, cwd=work, base_url=server.url, model=MODEL)
        if result.returncode != 0 or (work / "notes.txt").read_text() != "line one\nHello from bashgym\n":
            raise SystemExit(f"the run did not go as scripted:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        out.mkdir(parents=True, exist_ok=True)
        target = out / "last_mini_run.traj.json"
        shutil.copy(config_dir(home) / "last_mini_run.traj.json", target)
    return target


if __name__ == "__main__":
    print(f"recorded {record(Path(sys.argv[1]))}")
