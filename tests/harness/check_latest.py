"""Is there a new agent CLI release, and what did it change in the transcripts bashgym reads?

    python tests/harness/check_latest.py [--only claude,codex,gemini,opencode,qwen,cline,copilot] [--spec latest] [--json]

CI never runs this: the tests use the versions tests/harness/package-lock.json records. This is how a new
release is noticed and then supported on purpose. For each CLI it installs `--spec` (default: the registry's
latest) into a temporary directory, records the same scripted sessions the end-to-end tests record with the
locked version (twice: what differs between two runs of one version is noise) and the new one, and reports:
- the versions (locked, new);
- the transcript shape: record kinds and key paths (to depth 3) that appeared or disappeared, or for OpenCode
  the database's tables/columns and the keys of its JSON `data` columns;
- what `bashgym import` made of each recording (sessions, turns, steps, tool calls, skipped lines, errors).
Exit status: 0 when nothing changed, 1 when something did (then: support the change in the parser, keep the
old format working, re-record the fixtures with tests/harness/make_*_fixtures.py, bump package.json,
package-lock.json and tests/fixtures/RECORDED_WITH.json together), 2 when a recording failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.npm_tools import (  # noqa: E402
    CLAUDE_PACKAGE,
    CLINE_PACKAGE,
    CODEX_PACKAGE,
    COPILOT_PACKAGE,
    GEMINI_PACKAGE,
    NODE22_PACKAGE,
    OPENCODE_PACKAGE,
    QWEN_PACKAGE,
    installed_version,
    locked_version,
    npm_bin,
)


@dataclass
class Recorder:
    package: str
    binary: str
    source: str  # bashgym's import source name
    record: Callable[[Path, Path], Path]  # (binary, scratch dir) -> root to import


def _record_claude(binary: Path, tmp: Path) -> Path:
    from harness.make_claude_fixtures import run_scenario
    from harness.scenarios import SCENARIOS

    home = tmp / "home"
    home.mkdir()
    for scenario in SCENARIOS:
        run_scenario(binary, scenario, home, tmp / "work")
    return home / ".claude" / "projects"


def _record_codex(binary: Path, tmp: Path) -> Path:
    from harness.make_codex_fixtures import run_scenario

    home = tmp / "home"
    home.mkdir()
    run_scenario(binary, home, tmp / "work")
    return home / ".codex" / "sessions"


def _record_gemini(binary: Path, tmp: Path) -> Path:
    from harness.gemini_cli import gemini_tmp
    from harness.make_gemini_fixtures import run_scenario

    home = tmp / "home"
    home.mkdir()
    run_scenario(binary, home, tmp / "work")
    return gemini_tmp(home)


def _record_opencode(binary: Path, tmp: Path) -> Path:
    from harness.chat_stream_server import ScriptedChatStreamServer
    from harness.opencode_cli import data_dir, run_opencode
    from test_opencode_cli_e2e import MODEL, PROMPT, TITLE, script

    home, work = tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    (work / "notes.txt").write_text("line one\nTODO: greet\n")
    with ScriptedChatStreamServer(script(work), title=TITLE) as server:
        result = run_opencode(binary, PROMPT, home=home, cwd=work, base_url=server.url, model=MODEL)
    if result.returncode != 0:
        raise RuntimeError(f"opencode exited {result.returncode}: {result.stderr[-2000:]}")
    return data_dir(home)


def _record_qwen(binary: Path, tmp: Path) -> Path:
    """Qwen Code runs on the locked Node 22 (`binary` is its bin link, run as a script)."""
    from harness.make_qwen_fixtures import run_scenario
    from harness.qwen_cli import qwen_projects

    node = npm_bin(NODE22_PACKAGE, "node")
    if node is None:
        raise RuntimeError("npm is needed")
    home = tmp / "home"
    home.mkdir()
    run_scenario([str(node), str(binary)], home, tmp / "work")
    return qwen_projects(home)


def _record_cline(binary: Path, tmp: Path) -> Path:
    from harness.cline_cli import cline_sessions
    from harness.make_cline_fixtures import run_scenario

    home = tmp / "home"
    home.mkdir()
    run_scenario(binary, home, tmp / "work")
    return cline_sessions(home)


def _record_copilot(binary: Path, tmp: Path) -> Path:
    from harness.copilot_cli import copilot_sessions
    from harness.make_copilot_fixtures import run_scenario

    home = tmp / "home"
    home.mkdir()
    run_scenario(binary, home, tmp / "work")
    return copilot_sessions(home)


RECORDERS = {
    "claude": Recorder(CLAUDE_PACKAGE, "claude", "claude", _record_claude),
    "codex": Recorder(CODEX_PACKAGE, "codex", "codex", _record_codex),
    "gemini": Recorder(GEMINI_PACKAGE, "gemini", "gemini", _record_gemini),
    "opencode": Recorder(OPENCODE_PACKAGE, "opencode", "opencode", _record_opencode),
    "qwen": Recorder(QWEN_PACKAGE, "qwen", "qwen", _record_qwen),
    "cline": Recorder(CLINE_PACKAGE, "cline", "cline", _record_cline),
    "copilot": Recorder(COPILOT_PACKAGE, "copilot", "copilot", _record_copilot),
}


def _key_paths(value: object, prefix: str, depth: int) -> set[str]:
    if depth == 0 or not isinstance(value, (dict, list)):
        return set()
    if isinstance(value, list):
        paths: set[str] = set()
        for item in value:
            paths |= _key_paths(item, prefix + "[]", depth)
        return paths
    paths = set()
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else key
        paths.add(path)
        paths |= _key_paths(item, path, depth - 1)
    return paths


def _record_kind(record: dict) -> str:
    kind = str(record.get("type") or next(iter(record), "?"))
    payload = record.get("payload")
    if isinstance(payload, dict) and payload.get("type"):
        kind += "/" + str(payload["type"])
    return kind


def shape(root: Path, depth: int = 3) -> set[str]:
    """What a recording's files are made of: `kind: key.path` for JSON lines, `table.column` and
    `table.data(kind): key` for SQLite databases. Values are left out: only the format matters."""
    found: set[str] = set()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".json" and isinstance(document := _json_document(path), dict):
            # A whole document (Cline's session files): its messages' blocks sit two levels deeper than a line's.
            kind = path.name.split(".", 1)[1] if path.name.count(".") > 1 else "document"
            found |= {f"{kind}: {p}" for p in _key_paths(document, "", depth + 2)}
        elif path.suffix in (".jsonl", ".json"):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    kind = _record_kind(record)
                    found |= {f"{kind}: {p}" for p in _key_paths(record, "", depth)}
        elif path.suffix == ".db":
            found |= _db_shape(path)
    return found


def _json_document(path: Path) -> object:
    try:
        return json.loads(path.read_text(errors="replace"))
    except ValueError:
        return None


def _db_shape(path: Path) -> set[str]:
    found: set[str] = set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            found |= {f"{table}.{c}" for c in columns}
            if "data" in columns:
                for (data,) in db.execute(f'SELECT data FROM "{table}"'):
                    try:
                        record = json.loads(data)
                    except (TypeError, ValueError):
                        continue
                    if isinstance(record, dict):
                        kind = str(record.get("type") or record.get("role") or "?")
                        found |= {f"{table}.data({kind}): {p}" for p in _key_paths(record, "", 2)}
    finally:
        db.close()
    return found


def import_summary(source: str, root: Path, scratch: Path) -> dict:
    """What `bashgym import SOURCE ROOT` makes of a recording, in a store of its own."""
    env = {**os.environ, "HOME": str(scratch), "BASHGYM_HOME": str(scratch / ".bashgym"), "NO_COLOR": "1"}
    cli = [sys.executable, "-m", "bashgym.cli"]
    report = json.loads(subprocess.run([*cli, "import", source, str(root), "--json"], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    sessions = json.loads(subprocess.run([*cli, "sessions", "list", "--json", "--limit", "0"], env=env,
                                         check=True, capture_output=True, text=True).stdout)
    sessions = sessions["sessions"] if isinstance(sessions, dict) else sessions
    return {"sessions": report["sessions"], "steps": report["steps"], "skipped_lines": report["skipped_lines"],
            "errors": len(report["errors"]), "turns": sum(s["n_turns"] for s in sessions),
            "tool_calls": sum(s["n_tool_calls"] for s in sessions)}


@dataclass
class Finding:
    cli: str
    package: str
    locked: str
    checked: str = ""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    import_locked: dict = field(default_factory=dict)
    import_checked: dict = field(default_factory=dict)
    noise: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.import_locked != self.import_checked)


def install_spec(package: str, spec: str, where: Path) -> Path:
    """Install `package@spec` alone into `where`; returns its node_modules dir. A dist-tag is resolved to its
    version first: under an older Node, npm would otherwise pick the newest release whose `engines` that Node
    meets (`@qwen-code/qwen-code@latest` is 0.15.x under Node 20)."""
    where.mkdir(parents=True, exist_ok=True)
    if spec.replace("-", "").isalpha():  # a dist-tag (latest, next, preview): one version
        spec = subprocess.run(["npm", "view", f"{package}@{spec}", "version"], check=True, capture_output=True,
                              text=True, timeout=120).stdout.strip()
    (where / "package.json").write_text(json.dumps({"private": True, "dependencies": {package: spec}}))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-update-notifier"], cwd=where, check=True,
                   capture_output=True, text=True, timeout=900)
    return where / "node_modules"


def check(cli: str, spec: str, scratch: Path) -> Finding:
    recorder = RECORDERS[cli]
    finding = Finding(cli, recorder.package, locked_version(recorder.package))
    try:
        locked_bin = npm_bin(recorder.package, recorder.binary)
        if locked_bin is None:
            raise RuntimeError("npm is needed")
        modules = install_spec(recorder.package, spec, scratch / "install")
        finding.checked = installed_version(recorder.package, modules.parent) or "?"
        roots = {}
        runs = (("locked", locked_bin), ("locked-again", locked_bin), ("checked", modules / ".bin" / recorder.binary))
        for name, binary in runs:
            (scratch / name).mkdir()
            roots[name] = recorder.record(binary, scratch / name)
        finding.import_locked = import_summary(recorder.source, roots["locked"], scratch / "locked-store")
        finding.import_checked = import_summary(recorder.source, roots["checked"], scratch / "checked-store")
        before, again, after = (shape(roots[name]) for name, _ in runs)
        # Keys that come and go between two runs of the same version (timing) are not a format change.
        finding.noise = sorted(before ^ again)
        finding.added = sorted(after - before - again)
        finding.removed = sorted((before & again) - after)
    except Exception as exc:  # report and go on with the next CLI
        finding.error = f"{type(exc).__name__}: {exc}"
    return finding


def print_finding(f: Finding) -> None:
    print(f"== {f.cli} ({f.package}): locked {f.locked}, checked {f.checked or '?'}")
    if f.error:
        print(f"   could not check: {f.error}")
        return
    if f.noise:
        print(f"   ({len(f.noise)} key paths differ between two runs of the locked version; left out)")
    if not f.changed:
        print("   no change in the transcript shape or in what bashgym imports")
        return
    for sign, paths in (("+", f.added), ("-", f.removed)):
        for path in paths:
            print(f"   {sign} {path}")
    if f.import_locked != f.import_checked:
        print(f"   import, locked:  {f.import_locked}\n   import, checked: {f.import_checked}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(RECORDERS), help="comma-separated: " + ", ".join(RECORDERS))
    parser.add_argument("--spec", default="latest", help="npm version spec to compare with the lock")
    parser.add_argument("--json", action="store_true", help="one JSON object per CLI instead of text")
    args = parser.parse_args(argv)
    clis = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = [c for c in clis if c not in RECORDERS]
    if unknown:
        parser.error(f"unknown CLI {', '.join(unknown)}; choose from {', '.join(RECORDERS)}")
    findings = []
    for cli in clis:
        with tempfile.TemporaryDirectory(prefix=f"bashgym-latest-{cli}-") as tmp:
            finding = check(cli, args.spec, Path(tmp))
        findings.append(finding)
        print(json.dumps(asdict(finding) | {"changed": finding.changed})) if args.json else print_finding(finding)
    if any(f.error for f in findings):
        return 2
    return 1 if any(f.changed for f in findings) else 0


if __name__ == "__main__":
    raise SystemExit(main())
