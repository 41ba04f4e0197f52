"""The agent CLIs the end-to-end tests drive come at the exact versions the fixtures were recorded with:
tests/harness/package-lock.json, tests/fixtures/RECORDED_WITH.json and the fixtures themselves agree, and an
install that differs from the lock is an error naming the package and both versions."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness.npm_tools import (  # noqa: E402
    CLAUDE_PACKAGE,
    CLINE_PACKAGE,
    CODEX_PACKAGE,
    COPILOT_PACKAGE,
    GEMINI_PACKAGE,
    LOCK,
    MANIFEST,
    NODE22_PACKAGE,
    OPENCODE_PACKAGE,
    QWEN_PACKAGE,
    ToolVersionError,
    locked_version,
    npm_bin,
    require_locked,
    version_mismatches,
)

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((ROOT / "tests" / "fixtures" / "RECORDED_WITH.json").read_text())
CLIS = {CLAUDE_PACKAGE: "claude", CODEX_PACKAGE: "codex", GEMINI_PACKAGE: "gemini", OPENCODE_PACKAGE: "opencode",
        CLINE_PACKAGE: "cline", COPILOT_PACKAGE: "copilot"}
# Run through harness/qwen_cli.py on the locked Node 22, not through their own bin links (Qwen needs Node >= 22).
NODE22_TOOLS = {QWEN_PACKAGE: "qwen", NODE22_PACKAGE: "node"}


@pytest.mark.parametrize("package", sorted({**CLIS, **NODE22_TOOLS}))
def test_manifest_lock_and_fixtures_name_one_exact_version(package: str) -> None:
    wanted = json.loads(MANIFEST.read_text())["dependencies"][package]
    assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), f"{package} must be pinned exactly in {MANIFEST}, not {wanted!r}"
    assert locked_version(package) == wanted == RECORDED[package]["version"]
    for fixture in RECORDED[package]["fixtures"]:
        assert (ROOT / fixture).is_dir(), fixture


def _versions_in(root: Path, pattern: str) -> set[str]:
    found = set()
    for path in root.rglob("*.jsonl"):
        found.update(re.findall(pattern, path.read_text(errors="replace")))
    return found


def test_committed_fixtures_were_recorded_with_the_locked_versions() -> None:
    """What the transcripts themselves say about the CLI that wrote them."""
    for fixture in RECORDED[CLAUDE_PACKAGE]["fixtures"]:
        assert _versions_in(ROOT / fixture, r'"version":"([^"]+)"') == {locked_version(CLAUDE_PACKAGE)}, fixture
    for fixture in RECORDED[CODEX_PACKAGE]["fixtures"]:
        assert _versions_in(ROOT / fixture, r'"cli_version":"([^"]+)"') == {locked_version(CODEX_PACKAGE)}, fixture
    for fixture in RECORDED[QWEN_PACKAGE]["fixtures"]:
        assert _versions_in(ROOT / fixture, r'"version":"([^"]+)"') == {locked_version(QWEN_PACKAGE)}, fixture
    for fixture in RECORDED[CLINE_PACKAGE]["fixtures"]:
        versions = {json.loads(p.read_text())["origin"]["version"] for p in (ROOT / fixture).rglob("*.messages.json")}
        assert versions == {locked_version(CLINE_PACKAGE)}, fixture
    for fixture in RECORDED[COPILOT_PACKAGE]["fixtures"]:
        found = _versions_in(ROOT / fixture, r'"copilotVersion":"([^"]+)"')
        assert found == {locked_version(COPILOT_PACKAGE)}, fixture


def _fake_install(tools: Path, versions: dict[str, str]) -> None:
    for name, version in versions.items():
        pkg = tools / "node_modules" / name
        pkg.mkdir(parents=True)
        (pkg / "package.json").write_text(json.dumps({"name": name, "version": version}))


def test_an_installed_cli_at_another_version_is_named_with_both_versions(tmp_path: Path) -> None:
    lock = tmp_path / "package-lock.json"
    shutil.copyfile(LOCK, lock)
    locked = {key[len("node_modules/"):]: entry["version"]
              for key, entry in json.loads(lock.read_text())["packages"].items()
              if key.startswith("node_modules/") and not entry.get("optional")}
    _fake_install(tmp_path / "tools", {**locked, CODEX_PACKAGE: "0.171.0"})
    assert version_mismatches(tmp_path / "tools", lock) == [
        f"{CODEX_PACKAGE}: installed 0.171.0, the lock records {locked[CODEX_PACKAGE]}"]
    with pytest.raises(ToolVersionError, match=rf"{re.escape(CODEX_PACKAGE)} .* is 0\.171\.0, but "
                                               rf"package-lock\.json records {re.escape(locked[CODEX_PACKAGE])}"):
        require_locked(CODEX_PACKAGE, tmp_path / "tools", lock)
    assert require_locked(CLAUDE_PACKAGE, tmp_path / "tools", lock) == locked[CLAUDE_PACKAGE]


def test_a_missing_required_package_is_a_mismatch(tmp_path: Path) -> None:
    _fake_install(tmp_path / "tools", {CLAUDE_PACKAGE: locked_version(CLAUDE_PACKAGE)})
    problems = version_mismatches(tmp_path / "tools")
    assert f"{CODEX_PACKAGE}: not installed, the lock records {locked_version(CODEX_PACKAGE)}" in problems
    assert not any(p.startswith(CLAUDE_PACKAGE + ":") for p in problems)


@pytest.mark.slow
def test_installed_agent_clis_are_exactly_the_locked_versions() -> None:
    """The install the end-to-end tests use: every package npm put in the tools dir is the locked one, and each
    CLI reports the locked version itself."""
    if shutil.which("npm") is None:
        pytest.fail("npm is required: the end-to-end tests install the agent CLIs from tests/harness/package-lock.json")
    for package, binary in CLIS.items():
        path = npm_bin(package, binary)
        assert path is not None, f"{package} installed no {binary} binary"
    assert version_mismatches() == []
    for package, binary in CLIS.items():
        if package == COPILOT_PACKAGE:  # unpacks its runtime on first start: into the shared cache, once
            from harness.copilot_cli import copilot_bin

            assert copilot_bin() is not None  # it runs `copilot --version` and checks the locked version
            continue
        out = subprocess.run([str(npm_bin(package, binary)), "--version"], capture_output=True, text=True,
                             timeout=60).stdout
        assert locked_version(package) in out, (package, out)
    from harness.qwen_cli import qwen_command

    qwen = qwen_command()
    assert qwen is not None
    node = subprocess.run([qwen[0], "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert node == f"v{locked_version(NODE22_PACKAGE)}"
    out = subprocess.run([*qwen, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert out == locked_version(QWEN_PACKAGE)


def test_pypi_agents_are_pinned_exactly_in_the_dev_extra_and_match_their_fixtures() -> None:
    """mini-swe-agent comes from PyPI, not the npm lock: the `dev` extra pins the version RECORDED_WITH.json
    names, and the committed trajectory says it was written by that version."""
    import tomllib

    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    entry = RECORDED["mini-swe-agent"]
    assert f"mini-swe-agent=={entry['version']}" in dev
    for fixture in entry["fixtures"]:
        versions = {json.loads(p.read_text())["info"]["mini_version"] for p in (ROOT / fixture).glob("*.traj.json")}
        assert versions == {entry["version"]}, fixture


def test_aider_is_pinned_exactly_in_its_requirements_and_matches_its_fixture() -> None:
    """Aider comes from PyPI into a venv of its own: its requirements file pins the version RECORDED_WITH.json
    names, and the committed history says it was written by that version."""
    from harness.aider_cli import REQUIREMENTS, pinned_version

    entry = RECORDED["aider-chat"]
    assert pinned_version() == entry["version"]
    assert [line for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")] == [
        f"aider-chat=={entry['version']}"]
    for fixture in entry["fixtures"]:
        history = (ROOT / fixture / ".aider.chat.history.md").read_text()
        assert set(re.findall(r"^> Aider v(\S+)", history, re.M)) == {entry["version"]}, fixture
    # It must never enter bashgym's own install: not in any extra of pyproject.toml.
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not any("aider" in dep for deps in extras.values() for dep in deps)


def test_openhands_is_locked_exactly_with_every_dependency_and_kept_out_of_bashgym() -> None:
    """The OpenHands CLI comes from PyPI into a Python 3.12 venv of its own, from the full freeze of a working
    install (`--no-deps`): every line an exact pin, the CLI at the version RECORDED_WITH.json names. Its
    conversations record no version, so the fixture is tied to it by this entry alone."""
    from harness.openhands_cli import REQUIREMENTS, pinned_version

    entry = RECORDED["openhands"]
    assert pinned_version() == entry["version"] and entry["fixtures"] == ["tests/fixtures/openhands"]
    pins = [line for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    assert len(pins) > 100 and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=\s]+", p) for p in pins)
    assert any(p.startswith("openhands-sdk==") for p in pins)
    assert (ROOT / entry["fixtures"][0] / "conversations").is_dir()
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not any(dep.startswith("openhands") for deps in extras.values() for dep in deps)
