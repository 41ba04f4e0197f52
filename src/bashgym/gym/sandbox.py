"""A sandbox per episode: a fresh workspace, one persistent bash shell, no network, hard limits.

Layers, strongest first (`detect_layer` picks the first that works on this machine; BASHGYM_SANDBOX forces one):

- ``bubblewrap``: `bwrap --unshare-all` (user, pid, net, ipc, uts, cgroup namespaces) with a root built from
  read-only /usr, /etc (+ the project's Python prefixes, first on PATH); the workspace is the only writable
  place besides the episode's own /tmp. It is bound at ``/app`` (terminal-bench and Harbor tasks expect it),
  the task's tests at ``/tests`` (filled only when the verifier runs), the reference solution at
  ``/solution`` (only while it runs) and Harbor's logs at ``/logs``.
- ``unshare``: util-linux `unshare` for network, pid and ipc namespaces; the file system is the host's.
- ``rlimits``: only resource limits and a private temp dir: loud warning, no network isolation.

On every layer the shell runs with rlimits (processes, address space, CPU seconds, file size) and, when
bashgym runs as root, as a throwaway uid of its own, so RLIMIT_NPROC counts only this sandbox's processes,
the host's files stay unwritable and every leftover process can be found and killed at the end.

The shell persists across commands (``cd`` and ``export`` carry over, as in an agent's terminal); each
command's output (stdout and stderr interleaved) and exit code are exact: the command is run with
`eval` under redirection to a file and the exit code comes back on a private pipe. A command that runs past
its timeout or hits the process limit gets the whole sandbox killed and the shell restarted in the same
directory; the workspace files stay.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bashgym.errors import BashgymError

LAYERS = ("bubblewrap", "unshare", "rlimits")
APP_DIR = "/app"  # where the workspace appears inside a bubblewrap sandbox
TESTS_DIR = "/tests"
LOGS_DIR = "/logs"
SOLUTION_DIR = "/solution"  # Harbor's oracle runs solution/solve.sh from here
CTL_DIR = "/.bashgym"
_MOUNTED = ("tests", "solution")  # staged directories with a fixed place inside a bubblewrap sandbox


class SandboxError(BashgymError):
    """The sandbox itself failed (could not start, died unexpectedly): an infrastructure failure."""


class SandboxWarning(UserWarning):
    """Emitted when only a weak sandbox layer is available."""


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every process in the sandbox.

    command_timeout_s: wall-clock seconds one command may run before the sandbox is killed and restarted.
    cpu_s: CPU seconds per process (RLIMIT_CPU). memory_mb: address space per process (RLIMIT_AS).
    max_processes: processes of the sandbox's uid at once (RLIMIT_NPROC; a fork bomb stops here).
    max_file_mb: largest file a process may write (RLIMIT_FSIZE). max_output_chars: output kept per command
    (head and tail; the middle is elided and the elision is stated).
    """

    command_timeout_s: float = 60.0
    cpu_s: int = 60
    memory_mb: int = 2048
    max_processes: int = 256
    max_file_mb: int = 256
    max_output_chars: int = 16_000


@dataclass
class CommandResult:
    """What one command did. ``limit`` names the limit that stopped it (timeout, cpu, memory, file_size,
    processes) or is None; ``restarted`` says the shell was restarted afterwards (cwd kept, env lost)."""

    command: str
    output: str
    exit_code: int
    duration_s: float
    timed_out: bool = False
    limit: str | None = None
    truncated: bool = False
    restarted: bool = False


@dataclass(frozen=True)
class LayerInfo:
    name: str
    reason: str
    tried: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- layers


def _system_binds() -> list[str]:
    """bwrap arguments mounting the host's system directories read-only (merged-/usr aware)."""
    args: list[str] = []
    for top in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(top), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def _python_binds() -> list[str]:
    """bwrap arguments mounting the project's interpreter read-only at its own path. They go after the
    /tmp bind: an interpreter living under /tmp (a CI checkout's .venv) would otherwise be hidden by it."""
    args: list[str] = []
    made: set[str] = set()
    for prefix in _python_prefixes():
        if any(prefix == p or prefix.startswith(p + "/") for p in ("/usr", "/etc", "/opt")):
            continue
        # Parents are created 0755 explicitly: bwrap would copy a private parent's mode (/root is 0700).
        for parent in reversed(Path(prefix).parents[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--dir", str(parent)]
        args += ["--ro-bind", prefix, prefix]
    return args


def _bwrap_namespaces() -> list[str]:
    """As root, no user namespace: the shell drops to the sandbox's own host uid with setpriv, so
    RLIMIT_NPROC counts this sandbox only. As a normal user, a user namespace does the isolating."""
    if os.geteuid() == 0:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    return ["--unshare-all"]


def _drop_to(uid: int | None) -> list[str]:
    """argv prefix that runs the rest as `uid` with no capabilities (empty when not root)."""
    if uid is None:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all"]


def _python_prefixes() -> list[str]:
    """The running interpreter's prefixes, so the sandbox's `python` is ours (with pytest)."""
    seen: list[str] = []
    for prefix in (sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)):
        real = str(Path(prefix).resolve())
        for p in (prefix, real):
            if p not in seen and Path(p).is_dir():
                seen.append(p)
    return seen


def _probe(argv: list[str]) -> str | None:
    """None when `argv` runs `true` successfully, else the reason it did not."""
    try:
        proc = subprocess.run(argv + ["true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0:
        return (proc.stderr.strip() or f"exit code {proc.returncode}").splitlines()[-1]
    return None


def _bwrap_probe_argv() -> list[str]:
    return ["bwrap", *_bwrap_namespaces(), "--die-with-parent", *_system_binds(), "--dev", "/dev",
            "--proc", "/proc", "--dir", APP_DIR, *_drop_to(_allocate_uid())]


def _unshare_argv() -> list[str]:
    argv = ["unshare", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        argv[1:1] = ["--user", "--map-root-user"]
    return argv


@lru_cache(maxsize=1)
def _detect() -> LayerInfo:
    tried: dict[str, str] = {}
    if shutil.which("bwrap") is None:
        tried["bubblewrap"] = "bwrap is not installed (apt-get install bubblewrap)"
    else:
        why = _probe(_bwrap_probe_argv())
        if why is None:
            return LayerInfo("bubblewrap", "bwrap works here: own pid, network, ipc and mount namespaces, read-only system", tried)
        tried["bubblewrap"] = f"bwrap is installed but failed: {why}"
    if shutil.which("unshare") is None:
        tried["unshare"] = "util-linux unshare is not installed"
    else:
        why = _probe(_unshare_argv())
        if why is None:
            return LayerInfo("unshare", "unshare can create net and pid namespaces (no file-system isolation)",
                             tried)
        tried["unshare"] = f"unshare failed: {why}"
    return LayerInfo("rlimits", "no namespace tool works here: only resource limits and a private temp dir",
                     tried)


def detect_layer() -> LayerInfo:
    """The strongest sandbox layer that works on this machine, and why (BASHGYM_SANDBOX forces one)."""
    forced = os.environ.get("BASHGYM_SANDBOX", "").strip().lower()
    if forced:
        if forced not in LAYERS:
            from bashgym.errors import ConfigError, did_you_mean

            raise ConfigError(f"BASHGYM_SANDBOX={forced!r} is not a layer; use one of {', '.join(LAYERS)}"
                              f"{did_you_mean(forced, LAYERS)}")
        return LayerInfo(forced, f"forced by BASHGYM_SANDBOX={forced}", _detect().tried)
    return _detect()


def _warn_weak(layer: str) -> None:
    if layer == "bubblewrap":
        return
    message = (f"bashgym sandbox layer is {layer!r}: NO file-system isolation"
               + (" and NO network isolation" if layer == "rlimits" else "")
               + "; install bubblewrap (apt-get install bubblewrap) for a real sandbox. See `bashgym gym doctor`.")
    warnings.warn(message, SandboxWarning, stacklevel=3)
    print(f"WARNING: {message}", file=sys.stderr)


# --------------------------------------------------------------------------------------------- sandbox

_uid_lock = threading.Lock()
_used_uids: set[int] = set()


def _allocate_uid() -> int | None:
    """A throwaway uid for this sandbox when we are root (None otherwise)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    with _uid_lock:
        while True:
            uid = random.randrange(1_000_000, 2_000_000_000)
            if uid not in _used_uids:
                _used_uids.add(uid)
                return uid


def _chown_tree(path: Path, uid: int | None) -> None:
    if uid is None:
        return
    os.chown(path, uid, uid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _empty_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _uid_pids(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry))
                        break
        except OSError:
            continue
    return pids


def kill_uid(uid: int, rounds: int = 20) -> int:
    """SIGKILL every process running as `uid` (repeated: a fork bomb refills); returns how many were left."""
    for _ in range(rounds):
        pids = _uid_pids(uid)
        if not pids:
            return 0
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return len(_uid_pids(uid))


_INIT = r"""
ulimit -S -u {nproc} -v {mem_kb} -t {cpu} -f {fsize_kb} && ulimit -H -u {nproc} -v {mem_kb} -t {cpu_hard} -f {fsize_kb} \
  || {{ echo "bashgym: could not set limits" >&2; exit 1; }}
__bg_eval() {{ local __bg_cmd; IFS= read -r -d '' __bg_cmd < "{ctl}/cmd_$1"; eval "$__bg_cmd" > "{ctl}/out_$1" 2>&1 < /dev/null 9>&-; }}
__bg_run() {{ __bg_eval "$1"; local __bg_rc=$? __bg_p=(/proc/[0-9]*); printf '{token} %s %s %s %s\n' "$1" "$__bg_rc" "${{#__bg_p[@]}}" "$PWD" >&9; }}
cd "{cwd}" 2>/dev/null || cd "{workdir}"
printf '{token} ready 0 0 %s\n' "$PWD" >&9
"""


class Sandbox:
    """One episode's sandbox. Use as a context manager, or call `close()`.

    >>> with Sandbox() as box:                                   # doctest: +SKIP
    ...     box.run("echo hi > greeting.txt && cat greeting.txt").output
    'hi\\n'

    Attributes: ``layer`` (bubblewrap | unshare | rlimits), ``layer_reason``, ``workspace`` (host path of
    the workspace), ``workdir`` (the same directory as commands see it: /app under bubblewrap),
    ``tests_dir`` / ``logs_dir`` (where staged tests and Harbor's /logs appear to commands).
    """

    def __init__(self, *, limits: Limits | None = None, layer: str | None = None, keep: bool = False,
                 env: dict[str, str] | None = None) -> None:
        info = detect_layer() if layer is None else LayerInfo(layer, "chosen by the caller")
        if info.name not in LAYERS:
            raise SandboxError(f"unknown sandbox layer {info.name!r}; use one of {', '.join(LAYERS)}")
        self.layer = info.name
        self.layer_reason = info.reason
        _warn_weak(self.layer)
        self.limits = limits or Limits()
        self.keep = keep
        self.uid = _allocate_uid()
        self.root = Path(tempfile.mkdtemp(prefix="bashgym-ep-"))
        os.chmod(self.root, 0o755)
        self.workspace = self.root / "app"
        for name in ("app", "tmp", "ctl", "logs", "tests", "solution", "home"):
            (self.root / name).mkdir()
            _chown_tree(self.root / name, self.uid)
        (self.root / "logs" / "verifier").mkdir()
        _chown_tree(self.root / "logs", self.uid)
        inside = self.layer == "bubblewrap"
        self.workdir = APP_DIR if inside else str(self.workspace)
        self.tests_dir = TESTS_DIR if inside else str(self.root / "tests")
        self.logs_dir = LOGS_DIR if inside else str(self.root / "logs")
        self._ctl_inside = CTL_DIR if inside else str(self.root / "ctl")
        self._home_inside = "/tmp/.home" if inside else str(self.root / "home")
        self._extra_env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._token = secrets.token_hex(8)
        self._counter = 0
        self._cwd = ""  # the shell's directory after the last command: a restarted shell goes back there
        self._buffer = b""
        self._lock = threading.Lock()
        self._closed = False

    # -- public API -------------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def env(self) -> dict[str, str]:
        """The environment every command starts with (PATH puts the project's Python first)."""
        prefixes = _python_prefixes()
        path = [str(Path(p) / "bin") for p in prefixes[:1]] + ["/usr/local/bin", "/usr/bin", "/bin",
                                                                 "/usr/local/sbin", "/usr/sbin", "/sbin"]
        home = self._home_inside
        env = {
            "PATH": ":".join(path), "HOME": home, "TMPDIR": "/tmp" if self.layer == "bubblewrap"
            else str(self.root / "tmp"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "dumb",
            "PAGER": "cat", "GIT_PAGER": "cat", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
            "GIT_AUTHOR_NAME": "bashgym", "GIT_AUTHOR_EMAIL": "gym@bashgym.local",
            "GIT_COMMITTER_NAME": "bashgym", "GIT_COMMITTER_EMAIL": "gym@bashgym.local",
            "GIT_CONFIG_NOSYSTEM": "1", "TEST_DIR": self.tests_dir, "WORKSPACE": self.workdir,
            "BASHGYM_SANDBOX_LAYER": self.layer,
        }
        env.update(self._extra_env)
        return env

    def copy_in(self, src: Path, dest: str = ".") -> None:
        """Copy a file or directory tree from the host into the workspace (owned by the sandbox's user)."""
        target = (self.workspace / dest).resolve()
        if not str(target).startswith(str(self.workspace.resolve())):
            raise SandboxError(f"copy_in destination {dest!r} leaves the workspace")
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True, symlinks=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        _chown_tree(self.workspace, self.uid)

    def stage(self, src: Path, where: str = "tests") -> str:
        """Copy `src` (a directory, or one file) into the sandbox's /tests or /solution, or a private staging
        dir named `where`, replacing what was there; returns the path commands see. Done only when needed,
        so an agent never sees the tests or the solution during its episode."""
        if where in _MOUNTED:
            host = self.root / where
            inside = f"/{where}" if self.layer == "bubblewrap" else str(host)
        else:
            host, inside = self.root / "ctl" / where, f"{self._ctl_inside}/{where}"
        _empty_dir(host)  # emptied, not replaced: /tests is a bind mount of this very directory
        if src.is_dir():
            shutil.copytree(src, host, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, host / src.name)
        _chown_tree(host, self.uid)
        return inside

    def unstage(self, where: str) -> None:
        """Remove a staged directory again (a solution or setup script the agent must not read)."""
        host = self.root / where if where in _MOUNTED else self.root / "ctl" / where
        if where in _MOUNTED:
            _empty_dir(host)
        else:
            shutil.rmtree(host, ignore_errors=True)

    def reset_logs(self) -> Path:
        """Empty Harbor's /logs/verifier (so a stale reward cannot count); returns its host path."""
        verifier = self.root / "logs" / "verifier"
        verifier.mkdir(parents=True, exist_ok=True)
        _empty_dir(verifier)
        _chown_tree(verifier, self.uid)
        return verifier

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        """Run one shell command in the episode's persistent shell; output and exit code are exact."""
        if self._closed:
            raise SandboxError("this sandbox is closed")
        timeout = self.limits.command_timeout_s if timeout is None else timeout
        with self._lock:
            restarted_before = False
            if self._proc is None or self._proc.poll() is not None:
                restarted_before = self._proc is not None
                self._start()
            self._counter += 1
            n = self._counter
            ctl = self.root / "ctl"
            (ctl / f"cmd_{n}").write_text(command, encoding="utf-8")
            start = time.monotonic()
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(f"__bg_run {n}\n".encode())
                self._proc.stdin.flush()
            except BrokenPipeError:
                pass
            status = self._wait_for(str(n), timeout)
            duration = time.monotonic() - start
            processes = 0
            if " " in status:  # "<exit code> <processes in the sandbox's pid namespace> <cwd>"
                status, count, self._cwd = status.split(" ", 2)
                processes = int(count) if self.layer != "rlimits" else 0
            elif status == "timeout" and self.uid is not None:
                processes = len(_uid_pids(self.uid))
            output, truncated = self._read_output(ctl / f"out_{n}")
            for name in (f"cmd_{n}", f"out_{n}"):
                with contextlib.suppress(FileNotFoundError):
                    (ctl / name).unlink()
            result = CommandResult(command, output, 0, duration, truncated=truncated, restarted=restarted_before)
            if status == "timeout":
                self._kill()
                result.exit_code, result.timed_out, result.limit, result.restarted = 124, True, "timeout", True
            elif status == "eof":
                rc = self._proc.wait() if self._proc else 1
                result.exit_code, result.restarted = rc, True
                self._kill()
            else:
                result.exit_code = int(status)
            self._note_limits(result)
            if processes >= self.limits.max_processes - 2:
                result.limit = "processes"
            if result.limit == "processes" and not result.timed_out:
                self._kill()
                result.restarted = True
            if result.limit:
                result.output += f"\n[bashgym: stopped by the sandbox: {self._describe(result.limit)}]\n"
            return result

    def run_script(self, script: str, *, timeout: float | None = None, env: dict[str, str] | None = None,
                   cwd: str | None = None) -> CommandResult:
        """Run `script` (a path as commands see it) with bash in a clean environment in this sandbox:
        the agent's aliases, functions and exported variables do not leak into verifiers or setup."""
        return self.run_clean(f"bash {_quote(script)}", timeout=timeout, env=env, cwd=cwd)

    def run_clean(self, command: str, *, timeout: float | None = None, env: dict[str, str] | None = None,
                  cwd: str | None = None) -> CommandResult:
        """Run `command` with `bash -c` in a fresh environment (`env -i` + `Sandbox.env()`), in `cwd`
        (default: the workspace), inside the episode's sandbox (same processes, same files)."""
        variables = self.env()
        variables.update(env or {})
        assignments = " ".join(f"{k}={_quote(v)}" for k, v in variables.items())
        wrapped = (f"(cd {_quote(cwd or self.workdir)} && exec env -i {assignments} "
                   f"bash -c {_quote(command)})")
        return self.run(wrapped, timeout=timeout)

    def close(self) -> None:
        """Kill every process of the sandbox and delete its directory (unless keep=True)."""
        if self._closed:
            return
        self._closed = True
        self._kill()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- internals --------------------------------------------------------------------------------------

    def _argv(self) -> list[str]:
        shell = ["bash", "--noprofile", "--norc", "-s"]
        if self.layer == "bubblewrap":
            return ["bwrap", *_bwrap_namespaces(), "--die-with-parent", "--new-session", *_system_binds(),
                    "--dev", "/dev", "--proc", "/proc",
                    "--bind", str(self.workspace), APP_DIR, "--bind", str(self.root / "tmp"), "/tmp",
                    "--bind", str(self.root / "ctl"), CTL_DIR, "--bind", str(self.root / "logs"), LOGS_DIR,
                    "--ro-bind", str(self.root / "tests"), TESTS_DIR,
                    "--ro-bind", str(self.root / "solution"), SOLUTION_DIR, *_python_binds(),
                    "--dir", self._home_inside, "--chdir", APP_DIR, "--clearenv",
                    *[a for k, v in self.env().items() for a in ("--setenv", k, v)],
                    *_drop_to(self.uid), *shell]
        if self.layer == "unshare":
            return _unshare_argv() + _drop_to(self.uid) + shell
        return _drop_to(self.uid) + shell

    def _start(self) -> None:
        lim = self.limits
        cwd = self._cwd or self.workdir
        # As root each sandbox has its own uid; otherwise RLIMIT_NPROC counts all of the user's processes.
        nproc = lim.max_processes if self.uid is not None else len(_uid_pids(os.getuid())) + lim.max_processes
        init = _INIT.format(nproc=nproc, mem_kb=lim.memory_mb * 1024, cpu=lim.cpu_s, cpu_hard=lim.cpu_s + 1,
                            fsize_kb=lim.max_file_mb * 1024, ctl=self._ctl_inside, token=self._token,
                            cwd=cwd.replace('"', ""), workdir=self.workdir)
        read_fd, write_fd = os.pipe()  # fd 9 in the shell: status lines, never the command's output
        err = (self.root / "shell.err").open("ab")
        try:
            self._proc = subprocess.Popen(
                self._argv(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                cwd=self.workspace, env=None if self.layer == "bubblewrap" else self.env(),
                pass_fds=(write_fd,), start_new_session=True,
            )
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            raise SandboxError(f"could not start the {self.layer} sandbox: {exc}") from exc
        finally:
            err.close()
        os.close(write_fd)
        self._status_fd = read_fd
        self._buffer = b""
        assert self._proc.stdin is not None
        # The shell sees the pipe under the same number; move it to 9 before anything else.
        move = f"exec 9>&{write_fd} {write_fd}>&-\n" if write_fd != 9 else ""
        self._proc.stdin.write(move.encode() + init.encode())
        self._proc.stdin.flush()
        status = self._wait_for("ready", 30).split(" ")[0]  # "0 0 <cwd>"
        if status != "0":
            self._kill()
            err_text = (self.root / "shell.err").read_text(errors="replace").strip()[-500:]
            raise SandboxError(f"the {self.layer} sandbox did not start ({status}): {err_text or 'no error output'}"
                               " (see `bashgym gym doctor`)")

    def _wait_for(self, n: str, timeout: float) -> str:
        """The exit status for command `n`, 'timeout', or 'eof' when the shell died."""
        deadline = time.monotonic() + timeout
        prefix = f"{self._token} {n} ".encode()
        while True:
            for line in self._buffer.split(b"\n")[:-1]:
                if line.startswith(prefix):
                    self._buffer = b""
                    return line[len(prefix):].decode(errors="replace").rstrip("\n")
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            ready, _, _ = select.select([self._status_fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._status_fd, 65536)
                if not chunk:
                    return "eof"
                self._buffer += chunk

    def _read_output(self, path: Path) -> tuple[str, bool]:
        limit = self.limits.max_output_chars
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                if size <= limit * 4:
                    raw = fh.read()
                else:
                    head = fh.read(limit * 2)
                    fh.seek(size - limit * 2)
                    raw = head + b"\n" + fh.read()
        except FileNotFoundError:
            return "", False
        text = raw.decode("utf-8", errors="replace")
        if len(text) <= limit and size <= limit * 4:
            return text, False
        half = limit // 2
        return f"{text[:half]}\n[... {size - limit} bytes of output omitted ...]\n{text[-half:]}", True

    def _note_limits(self, result: CommandResult) -> None:
        if result.limit:
            return
        out = result.output
        if result.exit_code == 128 + signal.SIGXFSZ or "File size limit exceeded" in out:
            result.limit = "file_size"
        elif result.exit_code == 128 + signal.SIGXCPU or "CPU time limit exceeded" in out:
            result.limit = "cpu"
        elif any(s in out for s in ("MemoryError", "Cannot allocate memory", "bad_alloc", "out of memory")):
            result.limit = "memory"
        elif "fork: retry" in out or "fork: Resource temporarily unavailable" in out:
            result.limit = "processes"

    def _describe(self, limit: str) -> str:
        lim = self.limits
        return {
            "timeout": "wall-clock timeout; the shell was killed and restarted in the same directory",
            "cpu": f"CPU time limit ({lim.cpu_s} s per process)",
            "memory": f"memory limit ({lim.memory_mb} MiB address space per process)",
            "file_size": f"file size limit ({lim.max_file_mb} MiB per file)",
            "processes": f"process limit ({lim.max_processes}); every process of the sandbox was killed",
        }[limit]

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.kill()
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
            if proc.stdin:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
        if self.uid is not None:
            kill_uid(self.uid)
        fd = getattr(self, "_status_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
            self._status_fd = None

    def __del__(self) -> None:  # a forgotten sandbox must not leave processes behind
        with contextlib.suppress(Exception):
            if not self._closed:
                self.close()


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)
