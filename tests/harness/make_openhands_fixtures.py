"""Record a real OpenHands CLI conversation for the fixtures.

    python tests/harness/make_openhands_fixtures.py OUT_DIR

Runs the real `openhands` (PyPI `openhands`, the version pinned in tests/harness/openhands-requirements.txt, in
its own Python 3.12 venv) headless against the scripted chat-completions server in a temporary HOME: the
scenario of tests/test_openhands_cli_e2e.py (a terminal command with reasoning, a file_editor edit, a failing
command, finish; then a resumed second prompt), and copies the conversation directory (`base_state.json`,
`events/`) to OUT_DIR/conversations/<id>/ exactly as the CLI left it. The committed copy is
tests/fixtures/openhands/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.openhands_cli import openhands_bin  # noqa: E402
from test_openhands_cli_e2e import record as run_scenario  # noqa: E402


def record(out: Path, openhands: Path | None = None) -> Path:
    """Run the scenario and copy the conversation into out; returns the copied conversation directory."""
    openhands = openhands or openhands_bin()
    with tempfile.TemporaryDirectory() as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        run_scenario(openhands, home, work)
        [conversation] = list((home / ".openhands" / "conversations").iterdir())
        target = out / "conversations" / conversation.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(conversation, target)
    return target


if __name__ == "__main__":
    print(f"recorded {record(Path(sys.argv[1]))}")
