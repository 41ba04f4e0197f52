"""`bashgym doctor` on real homes: empty, healthy, and with a broken store file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bashgym.store import Store


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", "doctor", *args], capture_output=True, text=True,
                          timeout=120)


def by_name(output: str) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(output)}


def test_doctor_on_an_empty_home_says_what_to_do() -> None:
    result = doctor("--json")
    assert result.returncode == 0, result.stderr
    checks = by_name(result.stdout)
    assert {"python", "torch", "sandbox", "hooks", "store", "claude CLI", "codex CLI"} <= set(checks)
    assert checks["python"]["status"] == "ok"
    assert checks["hooks"]["status"] == "warn" and checks["hooks"]["fix"] == "bashgym hooks install"
    assert checks["store"]["status"] == "warn" and "bashgym import claude" in checks["store"]["fix"]
    assert all(c["status"] == "ok" for n, c in checks.items() if n.startswith("extra"))


def test_doctor_reports_hooks_and_a_healthy_store(fixtures_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "bashgym.cli", "hooks", "install"], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "bashgym.cli", "import", "claude", str(fixtures_dir / "claude")],
                   check=True, capture_output=True)
    checks = by_name(doctor("--json").stdout)
    assert checks["hooks"]["status"] == "ok"
    assert checks["store"]["status"] == "ok" and "6 sessions" in checks["store"]["detail"]
    human = doctor()
    assert "bashgym doctor" in human.stdout and "OK" in human.stdout


def test_doctor_fails_on_a_corrupt_store() -> None:
    home = Path(os.environ["BASHGYM_HOME"])
    with Store.open():
        pass
    db = home / "bashgym.db"
    for extra in home.glob("bashgym.db-*"):
        extra.unlink()
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wipe the schema page
    db.write_bytes(bytes(data))
    result = doctor("--json")
    assert result.returncode == 1
    assert by_name(result.stdout)["store"]["status"] == "fail"


def test_a_missing_optional_package_names_the_extra_to_install() -> None:
    """The base install has no factory/train/gym/ui packages: commands that need them say what to install."""
    code = ("import sys; sys.modules['numpy'] = None; sys.argv = ['bashgym', 'dataset', 'build']; "
            "from bashgym.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "pip install 'bashgym[factory]'" in result.stderr and "Traceback" not in result.stderr
