"""Record a real Aider chat history for the fixtures.

    python tests/harness/make_aider_fixtures.py OUT_DIR

Runs the real `aider` (PyPI `aider-chat`, the version pinned in tests/harness/aider-requirements.txt, in its
own venv under .tools/) headless against the scripted chat-completions server in a temporary HOME and git
repository: the scenario of tests/test_aider_cli_e2e.py (a SEARCH/REPLACE edit and a proposed `wc -l` in one
reply, aider's commit, then the user's own `/run`), and copies `.aider.chat.history.md` and
`.aider.input.history` to OUT_DIR exactly as aider left them. The committed copy is tests/fixtures/aider/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.aider_cli import aider_bin  # noqa: E402
from test_aider_cli_e2e import record as run_scenario  # noqa: E402


def record(out: Path) -> list[Path]:
    """Run the scenario and copy aider's history files into out."""
    aider = aider_bin()
    if aider is None:
        raise SystemExit("pip could not install the pinned aider-chat into .tools/aider")
    with tempfile.TemporaryDirectory() as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        run_scenario(aider, home, work)
        out.mkdir(parents=True, exist_ok=True)
        copied = []
        for name in (".aider.chat.history.md", ".aider.input.history"):
            shutil.copy(work / name, out / name)
            copied.append(out / name)
    return copied


if __name__ == "__main__":
    for path in record(Path(sys.argv[1])):
        print(f"recorded {path}")
