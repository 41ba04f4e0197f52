"""Re-run a turn's final test command in a fresh copy of the repository: the judge's strongest signal.

The copy is a `git clone` of the session's repository checked out at the recorded commit (or one
the user names). The agent's recorded file edits (Write / Edit / MultiEdit up to and including the turn)
are then replayed onto it, since what the turn changed is usually not committed yet; changes made by shell
commands (`sed -i`, generators) cannot be replayed and are reported as such. The command runs with its
repository paths mapped into the copy, in the gym's sandbox the way the gym's verifier runs tests (a fresh
sandbox process, no network, a size-limited disk); pass = exit 0 and, when a runner summary is printed, no failures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bashgym.errors import BashgymError, NotFoundError
from bashgym.judge.signals import is_edit_call, is_failed_call, test_runs
from bashgym.judge.testrunners import parse_test_output
from bashgym.schema import Session, Step, shell_command

OUTPUT_TAIL = 4000


@dataclass(slots=True)
class VerifyResult:
    session_id: str
    turn_idx: int
    step_idx: int
    command: str
    commit: str
    passed: bool
    exit_code: int | None
    summary: str
    output_tail: str
    duration_s: float
    replayed_edits: int
    skipped_edits: int
    runner: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_store(self) -> dict[str, Any]:
        """Metrics JSON for the 'verify' scorer row: a note and evidence like every other metric."""
        verdict = "passed" if self.passed else "failed"
        note = f"re-ran `{self.command}` at {self.commit[:12]}: {verdict} ({self.summary or f'exit {self.exit_code}'})"
        return {**self.to_dict(), "note": note,
                "evidence": [{"step": self.step_idx, "text": f"turn {self.turn_idx} step {self.step_idx}: {note}"}]}


def final_test_command(session: Session, turn_idx: int | None = None) -> tuple[int, int, str]:
    """(turn index, step index, command) of the last test command run in the turn (or, with no turn
    given, in the last turn that ran one)."""
    turns = session.turns if turn_idx is None else [t for t in session.turns if t.index == turn_idx]
    if turn_idx is not None and not turns:
        raise NotFoundError(f"session {session.id} has no turn {turn_idx} (turns 0..{len(session.turns) - 1})")
    for turn in reversed(turns):
        for step_idx, _ in reversed(test_runs(turn)):
            command = shell_command(turn.steps[step_idx])
            if command:
                return turn.index, step_idx, command
    where = f"turn {turn_idx} ran no test command" if turn_idx is not None else "no turn ran a test command"
    raise BashgymError(f"session {session.id}: {where}, so there is nothing to re-run")


def _git(*args: str, cwd: Path | str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BashgymError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()[:300]}")
    return proc.stdout.strip()


def repo_root(session: Session) -> Path:
    if not session.cwd or not Path(session.cwd).is_dir():
        raise NotFoundError(
            f"session {session.id} ran in {session.cwd!r}, which is not on this machine; verify needs the repository"
        )
    try:
        return Path(_git("rev-parse", "--show-toplevel", cwd=session.cwd))
    except BashgymError:
        raise NotFoundError(f"session {session.id} ran in {session.cwd}, which is not inside a git repository") from None


def _map_path(path: str, root: Path, cwd: Path, copy: Path) -> Path | None:
    p = Path(path)
    if not p.is_absolute():
        p = cwd / p
    try:
        return copy / p.resolve(strict=False).relative_to(root.resolve())
    except ValueError:
        return None


def replay_edits(session: Session, upto_turn: int, root: Path, copy: Path) -> tuple[int, int]:
    """Apply the session's recorded file edits (turns 0..upto_turn) to the copy; (applied, skipped)."""
    cwd = Path(session.cwd or root)
    applied = skipped = 0
    steps: list[Step] = [s for t in session.turns if t.index <= upto_turn for s in t.steps]
    for s in steps:
        if not is_edit_call(s) or is_failed_call(s) or not isinstance(s.input, dict):
            continue
        path = s.input.get("file_path") or s.input.get("path")
        target = _map_path(str(path), root, cwd, copy) if path else None
        if target is None:
            skipped += 1
            continue
        content = s.input.get("content", s.input.get("file_text"))  # file_text: an editor tool's create
        if content is not None and "old_string" not in s.input and "old_str" not in s.input:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(content))
            applied += 1
            continue
        edits = s.input.get("edits") if isinstance(s.input.get("edits"), list) else [s.input]
        if not target.exists():
            skipped += 1
            continue
        text = target.read_text(errors="replace")
        ok = True
        for e in edits:
            old = str(e.get("old_string", e.get("old_str", "")))  # old_str/new_str: an editor tool's str_replace
            new = str(e.get("new_string", e.get("new_str", "")))
            if not old or old not in text:
                ok = False
                break
            text = text.replace(old, new) if e.get("replace_all") else text.replace(old, new, 1)
        if ok:
            target.write_text(text)
            applied += 1
        else:
            skipped += 1
    return applied, skipped


def _run_sandboxed(command: str, copy: Path, rel: Path, root: Path, timeout_s: float) -> tuple[int | None, str, str]:
    """Run in the gym's sandbox the way its verifier runs tests (`Sandbox.run_fresh`): no network, own uid,
    rlimits, a size-limited disk, output and exit code from a process nothing else ever touched."""
    import shlex

    from bashgym.gym.sandbox import Limits, Sandbox

    size_mb = sum(f.stat().st_size for f in copy.rglob("*") if f.is_file() and not f.is_symlink()) // 2**20
    limits = Limits(command_timeout_s=timeout_s, cpu_s=int(timeout_s) + 1, memory_mb=8192,
                    max_output_chars=OUTPUT_TAIL * 4, disk_mb=max(1024, 2 * size_mb + 512))
    with Sandbox(limits=limits) as box:
        box.copy_in(copy, ".")
        workdir = box.workdir.rstrip("/") + ("" if str(rel) == "." else f"/{rel}")
        mapped = command.replace(str(root), box.workdir)
        result, logs_fd = box.run_fresh(f"cd {shlex.quote(workdir)} && {mapped}", timeout=timeout_s)
        if logs_fd is not None:
            os.close(logs_fd)
        output = result.output + (f"\n[stopped by the sandbox: {result.limit}]" if result.limit else "")
        return (None if result.timed_out else result.exit_code), output, f"sandbox ({box.layer})"


def _run_subprocess(command: str, copy: Path, rel: Path, root: Path, timeout_s: float) -> tuple[int | None, str, str]:
    workdir = copy / rel
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            ["bash", "-c", command.replace(str(root), str(copy))], cwd=workdir, capture_output=True, text=True,
            timeout=timeout_s, stdin=subprocess.DEVNULL,
        )
        return proc.returncode, proc.stdout + proc.stderr, "subprocess"
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return None, out + f"\n[timed out after {timeout_s:.0f}s]", "subprocess"


def verify_turn(
    session: Session, turn_idx: int | None = None, *, commit: str | None = None, replay: bool = True,
    timeout_s: float = 600.0, sandbox: bool = True,
) -> VerifyResult:
    """Clone the repo at the commit, replay the edits, re-run the final test command, report pass/fail.

    With `sandbox` (the default) the command runs in the gym's sandbox (`bashgym.gym.sandbox`: no network,
    its own uid); `sandbox=False` runs it as a plain subprocess in the temporary clone.
    """
    turn_idx, step_idx, command = final_test_command(session, turn_idx)
    root = repo_root(session)
    commit = commit or session.git_commit
    if not commit:
        raise BashgymError(
            f"session {session.id} recorded no git commit; pass one with --commit REV (e.g. the commit the "
            f"session started from in {root})"
        )
    commit = _git("rev-parse", "--verify", f"{commit}^{{commit}}", cwd=root)
    tmp = Path(tempfile.mkdtemp(prefix="bashgym-verify-"))
    try:
        copy = tmp / root.name
        _git("clone", "--quiet", "--no-checkout", str(root), str(copy), cwd=tmp)
        _git("checkout", "--quiet", "--detach", commit, cwd=copy)
        applied, skipped = replay_edits(session, turn_idx, root, copy) if replay else (0, 0)
        cwd = Path(session.cwd or root)
        mapped_cwd = _map_path(str(cwd), root, cwd, copy)
        rel = mapped_cwd.relative_to(copy) if mapped_cwd else Path(".")
        start = time.monotonic()
        run = _run_sandboxed if sandbox else _run_subprocess
        exit_code, output, runner = run(command, copy, rel, root, timeout_s)
        duration = round(time.monotonic() - start, 3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    parsed = parse_test_output(output)
    passed = exit_code == 0 and (parsed is None or parsed.ok)
    summary = parsed.summary if parsed else ""
    return VerifyResult(
        session.id, turn_idx, step_idx, command, commit, passed, exit_code, summary,
        output[-OUTPUT_TAIL:], duration, applied, skipped, runner,
    )
