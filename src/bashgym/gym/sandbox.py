"""A sandbox per episode: a fresh workspace, one persistent bash shell, no network, hard limits, and a
verifier that runs where the agent cannot reach it.

Layers, strongest first (`detect_layer` picks the first that works on this machine; BASHGYM_SANDBOX forces one):

- ``bubblewrap``: `bwrap` with its own pid, network, ipc and uts namespaces (and a user namespace when not
  root) and a root built from read-only /usr, /etc (+ the project's Python prefixes, first on PATH). The only
  writable places are the episode's: the workspace at ``/app`` (terminal-bench and Harbor tasks expect it),
  ``/tmp``, ``$HOME`` and the agent's ``/logs``.
- ``unshare``: util-linux `unshare` for network, pid and ipc namespaces; the file system is the host's.
- ``rlimits``: only resource limits and a private temp dir: loud warning, no network isolation.

Where the host never follows the agent (the design, not a list of patches):

- The episode's writable directories live on one size-limited tmpfs (`Limits.disk_mb`, mounted by the host
  when it runs as root) under a host-private episode root; the host never opens a path inside them once a
  command has run. Commands go to the shell on its stdin, output comes back on a pipe, exit statuses on a
  second pipe: all three exist before the sandbox starts. Nothing is exchanged through files.
- Tests, reference solutions and setup scripts are staged in host-private directories bound read-only.
- `run_fresh` (the verifier's way in) first ends the agent: the agent's shell and its whole PID namespace
  are killed (and, as root, every process of the sandbox's uid). The tests then run in a new sandbox process
  over the same files, with a fresh ``/logs`` the agent never saw and an exit status read from that process.
  A reward file is read with O_NOFOLLOW relative to a directory fd the host opened before the tests ran.
- Every episode root names its owner (pid and start time); `reap_stale_episodes` (run whenever a sandbox is
  made) unmounts and deletes the roots of owners that died, e.g. by kill -9.

On every layer the shell runs with rlimits (processes, address space, CPU seconds, file size) and, when
bashgym runs as root, as a throwaway uid of its own, so RLIMIT_NPROC counts only this sandbox's processes,
the host's files stay unwritable and every leftover process can be found and killed at the end.

The shell persists across commands (``cd`` and ``export`` carry over, as in an agent's terminal). A command
that runs past its timeout, prints more than `Limits.max_output_mb` or hits the process limit gets the whole
sandbox killed and the shell restarted in the same directory; the workspace files stay. Output printed by a
background job after its command returned shows up in the next command's output, as in a terminal. The agent
can lie about its own commands' exit codes (it runs inside the shell that reports them); it can never reach
the verifier's.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import secrets
import select
import shlex
import shutil
import signal
import stat
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
from bashgym.gym.cpu_budget import TreeSampler, TreeUsage, descendants
from bashgym.gym.protocol import cut_middle

LAYERS = ("bubblewrap", "unshare", "rlimits")
APP_DIR = "/app"  # where the workspace appears inside a bubblewrap sandbox
TESTS_DIR = "/tests"
LOGS_DIR = "/logs"
HOME_DIR = "/home/agent"
SOLUTION_DIR = "/solution"  # Harbor's oracle runs solution/solve.sh from here
STAGE_DIR = "/.bashgym"  # other staged scripts (setup, a test runner), read-only inside
EPISODE_PREFIX = "bashgym-ep-"
REWARD_FILE_MAX_BYTES = 64 * 1024
CTRF_MAX_BYTES = 4 * 1024 * 1024
VERIFIER_LOGS_MB = 16


class SandboxError(BashgymError):
    """The sandbox itself failed (could not start, died unexpectedly): an infrastructure failure."""


class SandboxWarning(UserWarning):
    """Emitted when only a weak sandbox layer is available."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one episode.

    command_timeout_s: wall-clock seconds one command may run before the sandbox is killed and restarted.
    cpu_s: CPU seconds per process (RLIMIT_CPU). memory_mb: address space per process (RLIMIT_AS).
    max_processes: processes of the sandbox's uid at once (RLIMIT_NPROC; a fork bomb stops here).
    max_file_mb: largest file a process may write (RLIMIT_FSIZE).
    disk_mb: everything the episode may write (workspace, /tmp, home, logs) together: the size of its tmpfs
    (enforced when bashgym runs as root; `Sandbox.disk_quota` says whether it is).
    max_output_chars: output kept per command (head and tail; the middle is elided and the elision is
    stated). max_output_mb: output one command may print before the sandbox is killed.
    """

    command_timeout_s: float = 60.0
    cpu_s: int = 60
    memory_mb: int = 2048
    max_processes: int = 256
    max_file_mb: int = 256
    disk_mb: int = 1024
    max_output_chars: int = 16_000
    max_output_mb: int = 64


@dataclass
class CommandResult:
    """What one command did. ``limit`` names the limit that stopped it (timeout, cpu, memory, file_size,
    processes, disk, output) or is None; ``restarted`` says the shell was restarted afterwards (cwd kept,
    env lost)."""

    command: str
    output: str
    exit_code: int
    duration_s: float
    timed_out: bool = False
    limit: str | None = None
    truncated: bool = False
    restarted: bool = False
    usage: TreeUsage | None = None  # on a timeout: the CPU its processes got and waited for (cpu_budget.py)


@dataclass(frozen=True)
class LayerInfo:
    name: str
    reason: str
    tried: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- layers


SHIMS = ("uv", "uvx", "pip", "pip3", "curl", "wget", "apt-get", "apt")


def _install_shims(bindir: Path) -> None:
    """The offline verifier toolchain (gym/shims/offline.py: uv, uvx, and pip/curl/wget/apt-get that make
    installer lines harmless), run by the project's Python, in a host-owned directory first on PATH."""
    bindir.mkdir(mode=0o755)
    source = (Path(__file__).parent / "shims" / "offline.py").read_text(encoding="utf-8")
    script = bindir / "bashgym-offline"
    script.write_text(f"#!{sys.executable}\n" + source.split("\n", 1)[1], encoding="utf-8")
    os.chmod(script, 0o755)
    for name in SHIMS:
        os.symlink("bashgym-offline", bindir / name)


def _below_app(workdir: str) -> str:
    """`workdir` (a path inside the sandbox, /app or below) relative to /app; SandboxError otherwise."""
    parts = [p for p in workdir.split("/") if p]
    if parts[:1] != ["app"] or ".." in parts or "." in parts:
        raise SandboxError(f"workdir {workdir!r} is not /app or a directory below it")
    return "/".join(parts[1:]) or "."



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


def _python_mount_points(tmp: Path) -> None:
    """Where the interpreter lives under /tmp (a CI checkout's .venv), make its mount point inside the
    episode's /tmp now, as root-owned directories in a sticky /tmp: the agent can neither remove nor
    replace them (with a symlink bwrap would follow) before a later sandbox process mounts the prefix."""
    for prefix in _python_prefixes():
        if not prefix.startswith("/tmp/"):
            continue
        path = tmp
        for part in Path(prefix).relative_to("/tmp").parts:
            path = path / part
            path.mkdir(mode=0o755, exist_ok=True)
            os.chmod(path, 0o755)


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


# --------------------------------------------------------------------------------------------- processes

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
    """Hand a tree the host just wrote (before any command ran, or in a host-private dir) to `uid`."""
    if uid is None:
        return
    os.chown(path, uid, uid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _uid_pids(uid: int) -> list[int]:
    """The live processes of `uid` (zombies, already dead, are left out)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                        break
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


def _start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot): with the pid, it names one process for good."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _pid_namespace() -> str:
    """This process's PID namespace: an episode's owner is judged only by processes that can see it."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until /proc/<pid> is gone (a PID namespace's init is gone only when every member is)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# --------------------------------------------------------------------------------------------- tmpfs

_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _mount_tmpfs(path: Path, size_mb: int) -> str | None:
    """Mount a tmpfs of `size_mb` MiB (nosuid, nodev) at `path`; None on success, else why it could not."""
    libc = _libc()
    if os.geteuid() != 0 or libc is None:
        return "a disk quota needs root (a size-limited tmpfs); only the file size limit applies"
    options = f"size={max(1, size_mb)}m,mode=0755".encode()
    if libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
        return f"mounting a tmpfs failed: {os.strerror(ctypes.get_errno())}; only the file size limit applies"
    return None


@lru_cache(maxsize=1)
def disk_quota_support() -> tuple[bool, str]:
    """Whether episodes get a size-limited disk here (a tmpfs the host mounts as root), and why (not)."""
    probe = Path(tempfile.mkdtemp(prefix="bashgym-quota-probe-"))
    try:
        why = _mount_tmpfs(probe, 1)
        if why is None:
            _unmount_all(probe)
            return True, "each episode writes to its own size-limited tmpfs (Limits.disk_mb, default 1024 MiB)"
        return False, why
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root` (deepest first)."""
    prefix = str(root)
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                point = line.split()[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + "/"):
                    found.append(point)
    except OSError:
        return []
    return sorted(found, key=len, reverse=True)


def _unmount_all(root: Path) -> None:
    libc = _libc()
    if libc is None:
        return
    for point in _mounts_under(root):
        libc.umount2(point.encode(), _MNT_DETACH)


def _remove_root(root: Path) -> None:
    """Unmount the episode's file systems, then delete the rest (rmtree does not follow symlinks)."""
    _unmount_all(root)
    shutil.rmtree(root, ignore_errors=True)


def reap_stale_episodes(tmpdir: str | None = None) -> list[Path]:
    """Delete the episode roots whose owning process is gone (killed with -9, or a crashed host), and kill
    what is left of their sandboxes; returns the roots removed. Roots of live owners are left alone."""
    base = Path(tmpdir or tempfile.gettempdir())
    removed = []
    try:
        entries = [e for e in os.scandir(base) if e.name.startswith(EPISODE_PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        try:
            owner = (Path(entry.path) / "owner").read_text().split()
            pid, started, uid_text, namespace = int(owner[0]), owner[1], owner[2], owner[3]
            uid = None if uid_text == "-" else int(uid_text)
        except (OSError, ValueError, IndexError):
            continue  # being created right now, or not ours to judge
        if namespace != _pid_namespace() or _start_time(pid) == started:
            continue  # an owner we cannot see (another PID namespace), or one that is alive
        if uid is not None and os.geteuid() == 0:
            kill_uid(uid)
        _remove_root(Path(entry.path))
        removed.append(Path(entry.path))
    return removed


# --------------------------------------------------------------------------------------------- output


class _Capture:
    """A command's output as it streams in: the head and the tail are kept, the total is counted."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > 2 * self.keep:
                del self.tail[: len(self.tail) - self.keep]

    def text(self, limit: int) -> tuple[str, bool]:
        """(output, truncated): at most about `limit` characters, the middle elided and the elision stated."""
        tail = bytes(self.tail[-self.keep:]) if self.tail else b""
        dropped = self.total - len(self.head) - len(tail)  # bytes never kept (counted as characters: exact for ASCII)
        text = (bytes(self.head) + tail).decode("utf-8", errors="replace")
        if len(text) <= limit and not dropped:
            return text, False
        return cut_middle(text, limit, already_cut=dropped), True


def _drain(fd: int, capture: _Capture, budget_bytes: int = 1 << 20) -> bool:
    """Read what `fd` (non-blocking) holds right now, up to a budget; False once it reached EOF."""
    taken = 0
    while taken < budget_bytes:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not chunk:
            return False
        capture.add(chunk)
        taken += len(chunk)
    return True


# --------------------------------------------------------------------------------------------- sandbox

_INIT = r"""
ulimit -S -u {nproc} -v {mem_kb} -t {cpu} -f {fsize_kb} && ulimit -H -u {nproc} -v {mem_kb} -t {cpu_hard} -f {fsize_kb} \
  || {{ echo "bashgym: could not set limits" >&2; exit 1; }}
__bg_run() {{ local __bg_cmd; IFS= read -r -d '' __bg_cmd; eval "$__bg_cmd" < /dev/null 9>&-; local __bg_rc=$? __bg_p=(/proc/[0-9]*); printf '%s %s %s %s\n' "$1" "$__bg_rc" "${{#__bg_p[@]}}" "$PWD" >&9; }}
cd {cwd} 2>/dev/null || cd {workdir}
printf '%s ready 0 %s\n' {nonce} "$PWD" >&9
"""

_FRESH = r"""ulimit -S -u {nproc} -v {mem_kb} -t {cpu} -f {fsize_kb} && ulimit -H -u {nproc} -v {mem_kb} -t {cpu_hard} -f {fsize_kb} \
  || {{ echo "bashgym: could not set limits" >&2; exit 125; }}
cd {cwd} || exit 125
exec bash --noprofile --norc -c {command}
"""


class Sandbox:
    """One episode's sandbox. Use as a context manager, or call `close()`.

    >>> with Sandbox() as box:                                   # doctest: +SKIP
    ...     box.run("echo hi > greeting.txt && cat greeting.txt").output
    'hi\\n'

    Attributes: ``layer`` (bubblewrap | unshare | rlimits), ``layer_reason``, ``workspace`` (host path of
    the workspace: for the caller to lay files in before the first command, and for tests), ``workdir``
    (the same directory as commands see it: /app under bubblewrap), ``tests_dir`` / ``logs_dir`` (where
    staged tests and Harbor's /logs appear to commands), ``disk_quota`` (whether `Limits.disk_mb` is
    enforced) and ``limits_hit`` (every limit a command or the verifier ran into, in order).
    """

    def __init__(self, *, limits: Limits | None = None, layer: str | None = None, keep: bool = False,
                 env: dict[str, str] | None = None, workdir: str = APP_DIR) -> None:
        below = _below_app(workdir)
        info = detect_layer() if layer is None else LayerInfo(layer, "chosen by the caller")
        if info.name not in LAYERS:
            raise SandboxError(f"unknown sandbox layer {info.name!r}; use one of {', '.join(LAYERS)}")
        self.layer = info.name
        self.layer_reason = info.reason
        _warn_weak(self.layer)
        reap_stale_episodes()
        self.limits = limits or Limits()
        self.keep = keep
        self.uid = _allocate_uid()
        self.root = Path(tempfile.mkdtemp(prefix=EPISODE_PREFIX))
        os.chmod(self.root, 0o711)  # traversable (weak layers use host paths), not listable
        me = os.getpid()
        uid = self.uid if self.uid is not None else "-"
        (self.root / "owner").write_text(f"{me} {_start_time(me)} {uid} {_pid_namespace()}\n")
        fs = self.root / "fs"
        fs.mkdir()
        why = _mount_tmpfs(fs, self.limits.disk_mb)
        self.disk_quota = why is None
        self.disk_note = why or f"{self.limits.disk_mb} MiB tmpfs"
        os.chmod(fs, 0o755)
        for name in ("app", "home", "logs"):
            (fs / name).mkdir()
            _chown_tree(fs / name, self.uid)
        (fs / "tmp").mkdir()
        os.chmod(fs / "tmp", 0o1777)  # root's, like a real /tmp: the sticky bit then guards root's entries
        _python_mount_points(fs / "tmp")
        for name in ("stage", "tests", "solution"):  # host-private, read-only inside
            (self.root / name).mkdir(mode=0o755)
        _install_shims(self.root / "stage" / "bin")
        self.workspace = fs / "app"
        inside = self.layer == "bubblewrap"
        if below != ".":
            (self.workspace / below).mkdir(parents=True)
            _chown_tree(self.workspace, self.uid)
        self.workdir = (APP_DIR if inside else str(self.workspace)) + ("" if below == "." else f"/{below}")
        self.tests_dir = TESTS_DIR if inside else str(self.root / "tests")
        self.logs_dir = LOGS_DIR if inside else str(fs / "logs")
        self._stage_inside = STAGE_DIR if inside else str(self.root / "stage")
        self._home_inside = HOME_DIR if inside else str(fs / "home")
        self._extra_env = dict(env or {})
        self.limits_hit: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._ns_pid: int | None = None
        self._out_fd: int | None = None
        self._status_fd: int | None = None
        self._counter = 0
        self._ran = False  # a command has run: the host no longer touches the workspace by path
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
        path = [f"{self._stage_inside}/bin"] + [str(Path(p) / "bin") for p in prefixes[:1]] + ["/usr/local/bin", "/usr/bin", "/bin",
                                                                 "/usr/local/sbin", "/usr/sbin", "/sbin"]
        env = {
            "PATH": ":".join(path), "HOME": self._home_inside, "TMPDIR": "/tmp" if self.layer == "bubblewrap"
            else str(self.root / "fs" / "tmp"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "dumb",
            "PAGER": "cat", "GIT_PAGER": "cat", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
            "GIT_AUTHOR_NAME": "bashgym", "GIT_AUTHOR_EMAIL": "gym@bashgym.local",
            "GIT_COMMITTER_NAME": "bashgym", "GIT_COMMITTER_EMAIL": "gym@bashgym.local",
            "GIT_CONFIG_NOSYSTEM": "1", "TEST_DIR": self.tests_dir, "WORKSPACE": self.workdir,
            "BASHGYM_SANDBOX_LAYER": self.layer,
        }
        env.update(self._extra_env)
        return env

    def copy_in(self, src: Path, dest: str = ".") -> None:
        """Copy a file or directory tree from the host into the workspace (owned by the sandbox's user).
        Only before the first command: after it, the workspace is the agent's and the host stays out."""
        if self._ran:
            raise SandboxError("copy_in after a command ran: the host does not write into the agent's workspace")
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
        """Copy `src` (a directory, or one file) into a host-private, read-only staging dir: "tests" (seen
        at /tests by `run_fresh` only), "solution" (at /solution) or a named dir under /.bashgym (setup, a
        test runner); returns the path commands see. Done only when needed, so an agent never sees the tests."""
        host, inside = self._staged(where)
        self.unstage(where)
        host.mkdir(mode=0o755, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, host, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, host / src.name)
        for root, dirs, files in os.walk(host):  # readable by the sandbox's uid, writable only by the host
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
            for name in files:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)
        return inside

    def unstage(self, where: str) -> None:
        """Remove a staged directory again (a solution or setup script the agent must not read)."""
        host, _ = self._staged(where)
        if where in ("tests", "solution"):  # emptied, not replaced: a bind mount holds this very directory
            for child in host.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        else:
            shutil.rmtree(host, ignore_errors=True)

    def _staged(self, where: str) -> tuple[Path, str]:
        """(host path, path commands see) of a staging dir."""
        if where in ("tests", "solution"):
            inside = {"tests": self.tests_dir, "solution": SOLUTION_DIR}[where]
            return self.root / where, inside if self.layer == "bubblewrap" else str(self.root / where)
        return self.root / "stage" / where, f"{self._stage_inside}/{where}"

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        """Run one shell command in the episode's persistent shell; output and exit code come back on
        pipes opened before the sandbox started."""
        if self._closed:
            raise SandboxError("this sandbox is closed")
        timeout = self.limits.command_timeout_s if timeout is None else timeout
        with self._lock:
            self._ran = True
            restarted_before = False
            if self._proc is None or self._proc.poll() is not None:
                restarted_before = self._proc is not None
                self._start()
            self._counter += 1
            nonce = f"{self._counter}-{secrets.token_hex(8)}"
            capture = _Capture(self.limits.max_output_chars * 2)
            assert self._proc is not None and self._proc.stdin is not None
            start = time.monotonic()
            try:
                self._proc.stdin.write(f"__bg_run {nonce}\n".encode() + command.replace("\0", "").encode()
                                       + b"\0")
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
            shell = self._proc.pid
            with TreeSampler(lambda: descendants(shell)) as sampler:
                status = self._wait_for(nonce, timeout, capture)
            duration = time.monotonic() - start
            processes = 0
            result = CommandResult(command, "", 0, duration, restarted=restarted_before)
            if status == "timeout":
                result.usage = sampler.usage()
                self._kill()
                result.exit_code, result.timed_out, result.limit, result.restarted = 124, True, "timeout", True
            elif status == "output":
                self._kill()
                result.exit_code, result.limit, result.restarted = 137, "output", True
            elif status == "eof":
                rc = self._proc.wait() if self._proc else 1
                result.exit_code, result.restarted = rc, True
                self._kill()
            else:  # "<exit code> <processes in the sandbox's pid namespace> <cwd>"
                code, count, self._cwd = (status.split(" ", 2) + ["", ""])[:3]
                result.exit_code = int(code) if code.lstrip("-").isdigit() else 1
                processes = int(count) if count.isdigit() and self.layer != "rlimits" else 0
            result.output, result.truncated = capture.text(self.limits.max_output_chars)
            self._note_limits(result)
            if processes >= self.limits.max_processes - 2:
                result.limit = "processes"
            if result.limit == "processes" and not result.timed_out:
                self._kill()
                result.restarted = True
            if result.limit:
                self.limits_hit.append(result.limit)
                result.output += f"\n[bashgym: stopped by the sandbox: {self._describe(result.limit)}]\n"
            return result

    def run_script(self, script: str, *, timeout: float | None = None, env: dict[str, str] | None = None,
                   cwd: str | None = None) -> CommandResult:
        """Run `script` (a path as commands see it) with bash in a clean environment in this sandbox:
        the agent's aliases, functions and exported variables do not leak into setup or a solution."""
        return self.run_clean(f"bash {shlex.quote(script)}", timeout=timeout, env=env, cwd=cwd)

    def run_clean(self, command: str, *, timeout: float | None = None, env: dict[str, str] | None = None,
                  cwd: str | None = None) -> CommandResult:
        """Run `command` with `bash -c` in a fresh environment (`env -i` + `Sandbox.env()`), in `cwd`
        (default: the workspace), inside the episode's shell (same processes, same files)."""
        variables = self.env()
        variables.update(env or {})
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items())
        wrapped = (f"(cd {shlex.quote(cwd or self.workdir)} && exec env -i {assignments} "
                   f"bash -c {shlex.quote(command)})")
        return self.run(wrapped, timeout=timeout)

    def end_agent(self) -> None:
        """Kill the agent's shell and everything it started (its PID namespace ends; as root, every
        process of the sandbox's uid is gone too) and wait until they are. The next `run` starts a new
        shell in the same directory."""
        with self._lock:
            self._kill()

    def run_fresh(self, command: str, *, timeout: float | None = None, env: dict[str, str] | None = None,
                  cwd: str | None = None) -> tuple[CommandResult, int | None]:
        """The verifier's way in: end the agent (`end_agent`), then run `command` with `bash -c` in a new
        sandbox process over the episode's files, with the staged tests at /tests and a fresh, empty
        /logs (its `verifier/` subdirectory made) that no agent process ever saw. The exit code is that
        process's own. Returns the result and a directory fd of that /logs (for `read_reward`; the caller
        closes it), or None on the weak layers that have no /logs of their own."""
        if self._closed:
            raise SandboxError("this sandbox is closed")
        timeout = self.limits.command_timeout_s if timeout is None else timeout
        with self._lock:
            self._ran = True
            self._kill()
            logs_fd = self._fresh_logs() if self.layer == "bubblewrap" else None
            try:
                return self._run_fresh(command, timeout=timeout, env=env, cwd=cwd), logs_fd
            except BaseException:
                if logs_fd is not None:
                    os.close(logs_fd)
                raise
            finally:
                self._kill()

    def close(self) -> None:
        """Kill every process of the sandbox and delete its directory (keep=True leaves it for inspection
        until a sandbox starts after this process has exited: `reap_stale_episodes` removes it then)."""
        if self._closed:
            return
        self._closed = True
        self._kill()
        if not self.keep:
            _remove_root(self.root)

    # -- internals --------------------------------------------------------------------------------------

    def _bwrap_base(self, variables: dict[str, str]) -> list[str]:
        fs = self.root / "fs"
        return ["bwrap", *_bwrap_namespaces(), "--die-with-parent", "--new-session", *_system_binds(),
                "--dev", "/dev", "--proc", "/proc",
                "--bind", str(fs / "app"), APP_DIR, "--bind", str(fs / "tmp"), "/tmp",
                "--dir", "/home", "--bind", str(fs / "home"), HOME_DIR,
                "--ro-bind", str(self.root / "stage"), STAGE_DIR, *_python_binds(),
                "--chdir", APP_DIR, "--clearenv",
                *[a for k, v in variables.items() for a in ("--setenv", k, v)]]

    def _argv(self, shell: list[str], *, variables: dict[str, str] | None = None, fresh_logs: bool = False,
              info_fd: int | None = None) -> list[str]:
        """The argv running `shell` in this episode's sandbox; `fresh_logs` adds the verifier's /tests and
        /logs. On the weak layers `variables` are set with `env -i` (bwrap sets them itself)."""
        variables = self.env() if variables is None else variables
        if self.layer == "bubblewrap":
            extra = ["--info-fd", str(info_fd)] if info_fd is not None else []
            if fresh_logs:
                extra += ["--ro-bind", str(self.root / "tests"), TESTS_DIR,
                          "--bind", str(self.root / "vlogs"), LOGS_DIR]
            else:
                extra += ["--dir", TESTS_DIR, "--ro-bind", str(self.root / "solution"), SOLUTION_DIR,
                          "--bind", str(self.root / "fs" / "logs"), LOGS_DIR]
            return [*self._bwrap_base(variables), *extra, *_drop_to(self.uid), *shell]
        shell = ["env", "-i", *[f"{k}={v}" for k, v in variables.items()], *shell]
        if self.layer == "unshare":
            return _unshare_argv() + _drop_to(self.uid) + shell
        return _drop_to(self.uid) + shell

    def _limit_values(self) -> dict[str, object]:
        lim = self.limits
        # As root each sandbox has its own uid; otherwise RLIMIT_NPROC counts all of the user's processes.
        nproc = lim.max_processes if self.uid is not None else len(_uid_pids(os.getuid())) + lim.max_processes
        return {"nproc": nproc, "mem_kb": lim.memory_mb * 1024, "cpu": lim.cpu_s, "cpu_hard": lim.cpu_s + 1,
                "fsize_kb": lim.max_file_mb * 1024}

    def _start(self) -> None:
        cwd = self._cwd or self.workdir
        nonce = secrets.token_hex(8)
        init = _INIT.format(**self._limit_values(), cwd=shlex.quote(cwd), workdir=shlex.quote(self.workdir),
                            nonce=nonce)
        out_r, out_w = os.pipe()  # the shell's stdout and stderr: every command's output
        status_r, status_w = os.pipe()  # fd 9 in the shell: status lines, never the command's output
        info_r, info_w = os.pipe() if self.layer == "bubblewrap" else (None, None)
        passed = tuple(fd for fd in (status_w, info_w) if fd is not None)
        argv = self._argv(["bash", "--noprofile", "--norc", "-s"], info_fd=info_w)
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=out_w, stderr=out_w, cwd=self.root,
                pass_fds=passed, start_new_session=True,
            )
        except OSError as exc:
            for fd in (out_r, out_w, status_r, status_w, info_r, info_w):
                if fd is not None:
                    os.close(fd)
            raise SandboxError(f"could not start the {self.layer} sandbox: {exc}") from exc
        for fd in (out_w, status_w, info_w):
            if fd is not None:
                os.close(fd)
        os.set_blocking(out_r, False)
        self._out_fd, self._status_fd, self._buffer = out_r, status_r, b""
        self._ns_pid = self._read_child_pid(info_r) if info_r is not None else None
        assert self._proc.stdin is not None
        # The shell sees the status pipe under the same number; move it to 9 before anything else.
        move = f"exec 9>&{status_w} {status_w}>&-\n" if status_w != 9 else ""
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.write(move.encode() + init.encode())
            self._proc.stdin.flush()
        capture = _Capture(4000)
        status = self._wait_for(nonce, 30, capture, word="ready")
        if not status.startswith("0 "):
            self._kill()
            err_text = capture.text(2000)[0].strip()
            raise SandboxError(f"the {self.layer} sandbox did not start ({status}): {err_text or 'no error output'}"
                               " (see `bashgym gym doctor`)")

    @staticmethod
    def _read_child_pid(fd: int) -> int | None:
        """bwrap's --info-fd JSON names the sandbox's init as the host sees it."""
        data = b""
        deadline = time.monotonic() + 10
        try:  # read to EOF: bwrap writes the JSON in pieces, and a closed pipe would kill it (SIGPIPE)
            while time.monotonic() < deadline and select.select([fd], [], [], deadline - time.monotonic())[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
            return int(json.loads(data.decode()).get("child-pid")) if data else None
        except (OSError, ValueError, TypeError):
            return None
        finally:
            os.close(fd)

    def _wait_for(self, nonce: str, timeout: float, capture: _Capture, *, word: str = "") -> str:
        """The status for command `nonce` ("<exit code> <processes> <cwd>"), or 'timeout', 'output' (printed
        past the output limit) or 'eof' (the shell died). Reads the output pipe meanwhile."""
        deadline = time.monotonic() + timeout
        prefix = f"{nonce} {word + ' ' if word else ''}".encode()
        out_open = True
        cap = self.limits.max_output_mb * 1024 * 1024
        assert self._status_fd is not None and self._out_fd is not None
        while True:
            for line in self._buffer.split(b"\n")[:-1]:
                if line.startswith(prefix):
                    self._buffer = self._buffer[self._buffer.index(line) + len(line) + 1:]
                    if out_open:
                        _drain(self._out_fd, capture)
                    return line[len(prefix):].decode(errors="replace")
            if len(self._buffer) > 65536:  # garbage on the status pipe: keep the last line only
                self._buffer = self._buffer[-4096:]
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            fds = [self._status_fd] + ([self._out_fd] if out_open else [])
            ready, _, _ = select.select(fds, [], [], min(left, 1.0))
            if self._out_fd in ready:
                out_open = _drain(self._out_fd, capture)
                if capture.total > cap:
                    return "output"
            if self._status_fd in ready:
                chunk = os.read(self._status_fd, 65536)
                if not chunk:
                    if out_open:
                        _drain(self._out_fd, capture)
                    return "eof"
                self._buffer += chunk

    def _fresh_logs(self) -> int:
        """A new, empty /logs for the verifier (a small tmpfs as root), and a directory fd on it opened
        before any sandbox process can see it."""
        vlogs = self.root / "vlogs"
        if vlogs.exists():
            _remove_root(vlogs)
        vlogs.mkdir(mode=0o755)
        _mount_tmpfs(vlogs, VERIFIER_LOGS_MB)
        os.chmod(vlogs, 0o755)
        (vlogs / "verifier").mkdir()
        _chown_tree(vlogs, self.uid)
        return os.open(vlogs, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def _run_fresh(self, command: str, *, timeout: float, env: dict[str, str] | None,
                   cwd: str | None) -> CommandResult:
        variables = self.env()
        variables.update(env or {})
        script = _FRESH.format(**self._limit_values(), cwd=shlex.quote(cwd or self.workdir),
                               command=shlex.quote(command))
        argv = self._argv(["bash", "--noprofile", "--norc", "-c", script], variables=variables,
                          fresh_logs=self.layer == "bubblewrap")
        out_r, out_w = os.pipe()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, cwd=self.root,
                                    start_new_session=True)
        except OSError as exc:
            os.close(out_r)
            raise SandboxError(f"could not start the {self.layer} verifier sandbox: {exc}") from exc
        finally:
            os.close(out_w)
        os.set_blocking(out_r, False)
        capture = _Capture(self.limits.max_output_chars * 2)
        cap = self.limits.max_output_mb * 1024 * 1024
        deadline = start + timeout
        limit: str | None = None
        usage: TreeUsage | None = None
        out_open = True
        sampler = TreeSampler(lambda: descendants(proc.pid)).__enter__()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    limit, usage = "timeout", sampler.usage()
                    break
                if out_open and select.select([out_r], [], [], min(left, 0.5))[0]:
                    out_open = _drain(out_r, capture)
                    if capture.total > cap:
                        limit = "output"
                        break
                if proc.poll() is not None:
                    if out_open:
                        _drain(out_r, capture)
                    break
                if not out_open:  # it closed its output but runs on
                    time.sleep(min(left, 0.005))
        finally:
            sampler.__exit__()
            if limit or proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            os.close(out_r)
        result = CommandResult(command, "", rc, time.monotonic() - start, usage=usage)
        if limit == "timeout":
            result.exit_code, result.timed_out, result.limit = 124, True, "timeout"
        elif limit == "output":
            result.exit_code, result.limit = 137, "output"
        result.output, result.truncated = capture.text(self.limits.max_output_chars)
        if rc == 125 and "bashgym: could not set limits" in result.output:
            raise SandboxError(f"the {self.layer} verifier sandbox did not start: {result.output[-500:]}")
        if self.layer == "bubblewrap" and rc == 1 and result.output.startswith("bwrap:"):
            raise SandboxError(f"the verifier sandbox did not start: {result.output.strip()[:500]}")
        self._note_limits(result)
        if result.limit:
            self.limits_hit.append(result.limit)
            result.output += f"\n[bashgym: stopped by the sandbox: {self._describe(result.limit)}]\n"
        return result

    def _note_limits(self, result: CommandResult) -> None:
        if result.limit:
            return
        out = result.output
        if result.exit_code == 128 + signal.SIGXFSZ or "File size limit exceeded" in out:
            result.limit = "file_size"
        elif result.exit_code == 128 + signal.SIGXCPU or "CPU time limit exceeded" in out:
            result.limit = "cpu"
        elif "No space left on device" in out or self._disk_full():
            result.limit = "disk"
        elif any(s in out for s in ("MemoryError", "Cannot allocate memory", "bad_alloc", "out of memory")):
            result.limit = "memory"
        elif "fork: retry" in out or "fork: Resource temporarily unavailable" in out:
            result.limit = "processes"

    def _disk_full(self) -> bool:
        if not self.disk_quota:
            return False
        try:
            st = os.statvfs(self.root / "fs")  # the mount point itself: the agent cannot replace it
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < 64 * 1024

    def _describe(self, limit: str) -> str:
        lim = self.limits
        return {
            "timeout": "wall-clock timeout; the shell was killed and restarted in the same directory",
            "cpu": f"CPU time limit ({lim.cpu_s} s per process)",
            "memory": f"memory limit ({lim.memory_mb} MiB address space per process)",
            "file_size": f"file size limit ({lim.max_file_mb} MiB per file)",
            "disk": f"disk limit ({lim.disk_mb} MiB for the whole episode)",
            "output": f"output limit ({lim.max_output_mb} MiB per command); every process of the sandbox was killed",
            "processes": f"process limit ({lim.max_processes}); every process of the sandbox was killed",
        }[limit]

    def _kill(self) -> None:
        """Kill the agent's sandbox and wait until its PID namespace (and, as root, its uid) is empty."""
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
        if self._ns_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self._ns_pid, signal.SIGKILL)
        if self.uid is not None:
            # Every agent process runs as this uid: none alive is the proof (and quicker than waiting for
            # the kernel to tear the namespace down, which takes a second or two).
            kill_uid(self.uid)
        elif self._ns_pid is not None:
            _wait_gone(self._ns_pid, 10)  # its init is gone only when every member of the namespace is
        self._ns_pid = None
        if self._out_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._out_fd)
            self._out_fd = None
        if self._status_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._status_fd)
            self._status_fd = None

    def __del__(self) -> None:  # a forgotten sandbox must not leave processes behind
        with contextlib.suppress(Exception):
            if not self._closed:
                self.close()


def read_reward(logs_fd: int) -> tuple[float | None, str]:
    """Harbor's verdict from a verifier's /logs (a directory fd from `Sandbox.run_fresh`): reward.txt (one
    number) or reward.json ({"reward": x} or a mapping of numbers, whose mean counts). Opened with
    O_NOFOLLOW relative to the fd, regular files only, at most REWARD_FILE_MAX_BYTES read: a symlink or a
    FIFO the tests planted is refused, never followed."""
    for name in ("reward.txt", "reward.json"):
        raw, why = _read_verifier_file(logs_fd, name, REWARD_FILE_MAX_BYTES)
        if why:
            return None, why
        if raw is not None:
            return _parse_reward(name, raw.decode("utf-8", errors="replace"))
    return None, "the tests wrote no /logs/verifier/reward.txt or reward.json"


def read_ctrf(logs_fd: int) -> tuple[list[dict], str]:
    """Per-test results from /logs/verifier/ctrf.json (pytest-json-ctrf's report, which terminal-bench 2
    test scripts write beside the reward): ([{"name", "status"}], "") or ([], why not). Read like
    `read_reward`: O_NOFOLLOW under the fd, a regular file, at most CTRF_MAX_BYTES."""
    raw, why = _read_verifier_file(logs_fd, "ctrf.json", CTRF_MAX_BYTES)
    if raw is None:
        return [], why
    try:
        tests = json.loads(raw.decode("utf-8", errors="replace"))["results"]["tests"]
        return [{"name": str(t.get("name", "")), "status": str(t.get("status", ""))} for t in tests], ""
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [], f"/logs/verifier/ctrf.json is not a CTRF report ({type(exc).__name__})"


def _read_verifier_file(logs_fd: int, name: str, max_bytes: int) -> tuple[bytes | None, str]:
    """(contents, "") of /logs/verifier/`name`; (None, "") when absent; (None, why) when refused."""
    try:
        verifier = os.open("verifier", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=logs_fd)
    except OSError as exc:
        return None, f"/logs/verifier is not a plain directory any more ({os.strerror(exc.errno or 0)})"
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=verifier)
        except FileNotFoundError:
            return None, ""
        except OSError as exc:
            return None, f"/logs/verifier/{name} is not a regular file ({os.strerror(exc.errno or 0)})"
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None, f"/logs/verifier/{name} is not a regular file"
            raw = b""
            while len(raw) <= max_bytes:
                chunk = os.read(fd, max_bytes + 1 - len(raw))
                if not chunk:
                    break
                raw += chunk
        finally:
            os.close(fd)
        if len(raw) > max_bytes:
            return None, f"/logs/verifier/{name} is larger than {max_bytes} bytes"
        return raw, ""
    finally:
        os.close(verifier)


def _parse_reward(name: str, text: str) -> tuple[float | None, str]:
    import math

    try:
        if name == "reward.txt":
            value = float(text.strip())
        else:
            data = json.loads(text)
            if isinstance(data, (int, float)):
                value = float(data)
            elif isinstance(data, dict) and isinstance(data.get("reward"), (int, float)):
                value = float(data["reward"])
            elif isinstance(data, dict) and data and all(isinstance(v, (int, float)) for v in data.values()):
                value = sum(data.values()) / len(data)
            else:
                return None, f"reward.json holds no number: {str(data)[:200]}"
    except ValueError as exc:
        return None, f"unreadable reward file {name}: {str(exc)[:200]}"
    if math.isnan(value):
        return None, "the reward file holds NaN"
    return value, ""
