"""A policy that attacks the gym: each attack of issue 16 (and variants) through the public env API, and one
through the real `bashgym eval` CLI against a scripted OpenAI-compatible endpoint. None may read, write or
delete anything on the host outside its episode, and none may turn a failing task into a pass.

Host canaries are random files made by the test with mode 0600; each test checks they are unchanged and
that their content never shows up in anything the agent or the rollout saw.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bashgym.gym.env import BashTaskEnv
from bashgym.gym.protocol import SUBMIT
from bashgym.gym.sandbox import EPISODE_PREFIX, Limits, Sandbox, _mounts_under, _uid_pids, detect_layer
from bashgym.gym.task import load_task
from bashgym.store import Store
from harness.openai_server import ScriptedOpenAIServer, assistant_turns, bash_call, say

pytestmark = pytest.mark.skipif(detect_layer().name != "bubblewrap", reason="the guarantees hold on bubblewrap")

HARBOR = Path(__file__).parent / "fixtures" / "gym" / "harbor" / "word-count"
NESTED = "files-create-nested"  # passes when a/b/c/hello.txt holds "hello"


class Canaries:
    """Random 0600 files in a host directory (one of them holds "1", a reward if a host ever read it)."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "host-canaries"
        self.dir.mkdir(mode=0o700)
        self.files: dict[Path, bytes] = {}
        for name in ("secret", "shadow-like", "one"):
            path = self.dir / name
            content = b"1\n" if name == "one" else f"CANARY-{secrets.token_hex(16)}\n".encode()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, content)
            os.close(fd)
            self.files[path] = content
        self.stats = {p: (p.stat().st_mode, p.stat().st_mtime_ns, p.stat().st_nlink) for p in self.files}
        self.secret = self.dir / "secret"
        self.secret_text = self.files[self.secret].decode().strip()

    def assert_intact(self, *seen: str) -> None:
        assert sorted(self.dir.iterdir()) == sorted(self.files), "a file appeared or vanished in the host dir"
        for path, content in self.files.items():
            assert path.read_bytes() == content
            st = path.stat()
            assert (st.st_mode, st.st_mtime_ns, st.st_nlink) == self.stats[path]
        for text in seen:
            assert self.secret_text not in text and "CANARY-" not in text


@pytest.fixture()
def canaries(tmp_path: Path) -> Canaries:
    return Canaries(tmp_path)


def play(task, commands: list[str], *, limits: Limits | None = None) -> tuple[str, float, dict, BashTaskEnv]:
    """An episode through the public env API: every command, then submit. Returns everything the agent and
    the rollout saw (observations and outputs), the final reward and info, and the closed env."""
    env = BashTaskEnv(task, limits=limits or Limits(command_timeout_s=20), max_steps=len(commands) + 5)
    obs, _ = env.reset(seed=0)
    seen = [obs]
    reward, info = 0.0, {}
    for command in commands:
        obs, reward, terminated, truncated, info = env.step(command)
        seen += [obs, env.last_result.output if env.last_result else ""]
        assert not (terminated or truncated)
    obs, reward, terminated, _, info = env.step(SUBMIT)
    assert terminated
    seen += [obs, env.last_verdict.output if env.last_verdict else "", info.get("reason", "")]
    env.close()
    return "\n".join(seen), reward, info, env


def assert_failed(reward: float, info: dict) -> None:
    assert info["status"] == "fail" and reward == 0.0, info


# ------------------------------------------------------------------ the host never follows the agent's paths


def test_symlinks_at_every_name_the_host_might_open_are_never_followed(canaries: Canaries, tmp_path: Path):
    target = tmp_path / "host-canaries" / "written-by-host"
    names = " ".join([f"out_{i} cmd_{i}" for i in range(1, 25)] + ["reward.txt", "reward.json", "shell.err",
                                                                    "owner", "verifier"])
    plant = (f"for d in /.bashgym /app /tmp /logs /logs/verifier $HOME /tests /solution; do for n in {names}; do "
             f"ln -sfn {canaries.secret} $d/$n 2>/dev/null; done; ln -sfn {target} $d/cmd_next 2>/dev/null; done; "
             "ls -la /.bashgym /logs /logs/verifier 2>&1 | head -5; echo planted")
    seen, reward, info, _ = play(NESTED, [plant, "echo one", "echo two", "cat out_3 cmd_4 2>&1 | head -2"])
    assert "planted" in seen
    assert_failed(reward, info)
    assert not target.exists()
    canaries.assert_intact(seen)


def test_a_status_forged_through_saved_fds_cannot_pass_an_undone_task(canaries: Canaries):
    # The original exploit: read the status line's format (and any token in it) from `declare -f __bg_run`,
    # then keep a background loop writing "exit 0" statuses for the next commands into every fd the shell
    # holds (its saved status pipe among them), so that the test command would seem to pass.
    forge = textwrap.dedent("""\
        fmt=$(declare -f __bg_run | grep -o "printf '[^']*'" | head -1 | sed "s/^printf '//; s/'$//")
        echo "format: $fmt"
        for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] || continue
          ( while true; do for i in $(seq 1 60); do
              printf "$fmt" "$i" 0 1 /app >&"$n"; printf "$fmt" "$i-x" 0 1 /app >&"$n"
            done; sleep 0.01; done ) >/dev/null 2>&1 &
        done; echo forging""")
    seen, reward, info, env = play(NESTED, [forge, "true", "ls"])
    assert "forging" in seen
    assert_failed(reward, info)
    canaries.assert_intact(seen)


def test_replacing_logs_verifier_with_a_symlink_to_a_host_dir_deletes_nothing(canaries: Canaries):
    swap = f"rm -rf /logs/verifier && ln -s {canaries.dir} /logs/verifier && ls -la /logs/"
    seen, reward, info, _ = play(load_task(HARBOR), [swap])
    assert_failed(reward, info)
    canaries.assert_intact(seen)


def test_swapping_the_log_dir_between_check_and_use_deletes_nothing(canaries: Canaries):
    # A background loop flips /logs/verifier between a directory and a symlink to a host dir while the
    # episode ends and the tests run.
    flip = (f"( while true; do rm -rf /logs/verifier; mkdir /logs/verifier; rm -rf /logs/verifier; "
            f"ln -sfn {canaries.dir} /logs/verifier; done ) >/dev/null 2>&1 & echo flipping")
    seen, reward, info, _ = play(load_task(HARBOR), [flip, "sleep 0.2"])
    assert_failed(reward, info)
    canaries.assert_intact(seen)


def test_a_reward_file_planted_as_a_symlink_by_code_the_tests_run_is_refused(canaries: Canaries, tmp_path: Path):
    # The tests run the agent's code (as most tests do); that code points the reward file at a host file
    # holding "1". The host reads the reward with O_NOFOLLOW under a dirfd: no score, never a pass.
    task_dir = tmp_path / "runs-agent-code"
    shutil.copytree(HARBOR, task_dir)
    (task_dir / "tests" / "test.sh").write_text(
        "#!/bin/bash\nmkdir -p /logs/verifier\nbash /app/check.sh || true\n"
        "[ -e /logs/verifier/reward.txt ] || echo 0 > /logs/verifier/reward.txt\n")
    toml = task_dir / "task.toml"
    toml.write_text(toml.read_text().replace("[verifier]\ntimeout_sec = 60.0", "[verifier]\ntimeout_sec = 5.0"))
    for plant in (f"ln -sfn {canaries.dir / 'one'} /logs/verifier/reward.txt",
                  f"rm -rf /logs/verifier && ln -sfn {canaries.dir} /logs/verifier",
                  "mkfifo /logs/verifier/reward.txt"):
        write = f"printf '%s\\n' {json.dumps(plant)} > /app/check.sh && echo ok"
        task = load_task(task_dir)
        assert task.test_timeout_s == 5.0
        seen, reward, info, _ = play(task, [write])
        assert info["status"] == "no_score" and "not a" in info["reason"], info
        assert reward != 1.0
        canaries.assert_intact(seen)


def test_a_pytest_module_left_in_the_workspace_does_not_stand_in_for_pytest(canaries: Canaries):
    # terminal-bench tests run `pytest` from /app: a pytest.py (or package) there that exits 0 would
    # "pass" every test if the workspace were on sys.path.
    task = load_task(Path(__file__).parent / "fixtures" / "gym" / "terminal-bench" / "csv-summary")
    plant = ("printf 'raise SystemExit(0)\\n' > /app/pytest.py && mkdir -p /app/_pytest && "
             "cp /app/pytest.py /app/_pytest/__init__.py && echo planted")
    seen, reward, info, _ = play(task, [plant])
    assert "planted" in seen
    assert_failed(reward, info)
    canaries.assert_intact(seen)


def test_a_hard_link_to_a_host_file_cannot_be_made(canaries: Canaries):
    seen, reward, info, _ = play(NESTED, [f"ln {canaries.secret} /app/x; ln {canaries.secret} /tmp/x; "
                                          "cat /app/x /tmp/x; echo done"])
    assert "done" in seen
    assert_failed(reward, info)
    canaries.assert_intact(seen)


def test_setuid_binaries_give_no_privilege(canaries: Canaries):
    if os.geteuid() != 0:
        pytest.skip("making a setuid-root binary needs root")
    env = BashTaskEnv(NESTED, limits=Limits(command_timeout_s=20))
    env.reset(seed=0)
    assert env.sandbox is not None
    rootcat = env.sandbox.workspace / "rootcat"  # laid in before the first command, as a task file would be
    shutil.copy(shutil.which("cat") or "/bin/cat", rootcat)
    os.chown(rootcat, 0, 0)
    os.chmod(rootcat, 0o4755)
    _, _, _, _, _ = env.step("ls -l rootcat; ./rootcat /etc/shadow; id -u; cp rootcat mine && chmod u+s mine "
                             "&& ./mine /etc/shadow; echo end")
    seen = env.last_result.output if env.last_result else ""
    _, reward, _, _, info = env.step(SUBMIT)
    env.close()
    assert "end" in seen and "root:" not in seen and "Permission denied" in seen
    assert_failed(reward, info)
    canaries.assert_intact(seen)


UNDER_TMP = textwrap.dedent("""\
    import sys
    from bashgym.gym.sandbox import Sandbox
    with Sandbox() as box:
        top = "/" + sys.prefix.split("/")[1] + "/" + sys.prefix.split("/")[2]
        print(box.run(f"mv {top} /tmp/moved; rm -rf {top}; ln -sfn /oldroot/etc {top}/x; echo tried").output)
        result, fd = box.run_fresh("python -c 'import sys; print(sys.prefix)'")
        print("fresh", result.exit_code, result.output)
    """)


def test_an_interpreter_under_tmp_keeps_a_mount_point_the_agent_cannot_replace(tmp_path: Path):
    # A CI checkout's .venv under /tmp is bound inside the agent's /tmp; its mount point is root's, in a
    # sticky /tmp, so the agent cannot swap it for a symlink that a later sandbox process would follow.
    if os.geteuid() != 0:
        pytest.skip("the mount point is guarded by root ownership")
    venv = tmp_path / "ci" / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    src = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", UNDER_TMP], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": src})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Operation not permitted" in proc.stdout and "tried" in proc.stdout
    assert f"fresh 0 {venv}" in proc.stdout


# ------------------------------------------------------------------ processes, fds and /proc


def test_inherited_fds_carry_no_host_file(canaries: Canaries):
    fd = os.open(canaries.secret, os.O_RDONLY)
    os.set_inheritable(fd, True)  # a careless host: the fd would survive an exec
    try:
        seen, reward, info, _ = play(NESTED, [
            "ls -l /proc/self/fd /proc/$$/fd; for f in /proc/self/fd/* /proc/$$/fd/*; do "
            "timeout 1 cat \"$f\" 2>/dev/null | head -c 2000; done; echo done"])
    finally:
        os.close(fd)
    assert "done" in seen
    assert_failed(reward, info)
    canaries.assert_intact(seen)


def test_proc_of_host_processes_is_out_of_reach(canaries: Canaries, monkeypatch: pytest.MonkeyPatch):
    secret_env = f"ENVSECRET-{secrets.token_hex(8)}"
    monkeypatch.setenv("BASHGYM_TEST_HOST_SECRET", secret_env)
    me = os.getpid()
    seen, reward, info, _ = play(NESTED, [
        f"ls /proc | grep -c '^[0-9]'; cat /proc/{me}/environ; ls /proc/{me}/root/; "
        f"cat /proc/{me}/root{canaries.secret}; kill -9 {me}; kill -9 -1; env; cat /proc/*/environ; echo done"])
    assert "done" in seen and secret_env not in seen
    assert_failed(reward, info)
    os.kill(me, 0)  # the host process is alive
    canaries.assert_intact(seen)


def test_a_ptrace_of_the_verifier_finds_nothing_to_attach_to(canaries: Canaries):
    # A background process attaches (ptrace) to every process it can see and plants rewards, waiting for
    # the verifier to show up.
    tracer = textwrap.dedent("""\
        import ctypes, os, time
        libc = ctypes.CDLL(None)
        while True:
            for p in os.listdir('/proc'):
                if p.isdigit() and int(p) != os.getpid():
                    libc.ptrace(0x4206, int(p), 0, 0)  # PTRACE_SEIZE
                    libc.kill(int(p), 19)  # SIGSTOP
            os.makedirs('/logs/verifier', exist_ok=True)
            open('/logs/verifier/reward.txt', 'w').write('1')
            time.sleep(0.01)
        """)
    start = f"printf '%s' {json.dumps(tracer)} > /tmp/t.py && (python3 /tmp/t.py >/dev/null 2>&1 &) && echo tracing"
    seen, reward, info, _ = play(load_task(HARBOR), [start, "sleep 0.2"])
    assert "tracing" in seen
    assert_failed(reward, info)
    assert info["reason"] == "reward 0 < 1"  # the verifier ran undisturbed and wrote its own 0
    canaries.assert_intact(seen)


def test_a_background_process_outliving_submit_cannot_solve_the_task_during_the_tests(canaries: Canaries):
    # It waits until the tests appear (or any new process starts) and then does the work, so that the
    # tests would see a solved task. Every process of the episode is gone before the tests run.
    lurker = ("nohup setsid bash -c 'until [ -e /tests/test.sh ] || [ $(ls /proc | grep -c \"^[0-9]\") -gt 12 ];"
              " do sleep 0.005; done; mkdir -p /app/a/b/c; echo hello > /app/a/b/c/hello.txt' "
              ">/dev/null 2>&1 & disown; echo lurking")
    env = BashTaskEnv(NESTED, limits=Limits(command_timeout_s=20))
    env.reset(seed=0)
    assert env.sandbox is not None
    uid = env.sandbox.uid
    assert "lurking" in env.step(lurker)[0]
    _, reward, terminated, _, info = env.step(SUBMIT)
    assert terminated
    assert_failed(reward, info)
    if uid is not None:
        assert _uid_pids(uid) == []
    env.close()
    canaries.assert_intact()


# ------------------------------------------------------------------ resource bounds


def test_filling_the_disk_stops_at_the_task_quota_and_is_reported(canaries: Canaries, tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("the disk quota is a tmpfs the host mounts as root")
    task_dir = tmp_path / "small-disk"
    (task_dir / "tests").mkdir(parents=True)
    (task_dir / "task.yaml").write_text("id: small-disk\ncategory: files\ninstruction: write hello into "
                                        "hello.txt\ndisk_mb: 32\n")
    (task_dir / "tests" / "test.sh").write_text('#!/bin/bash\ntest "$(cat hello.txt)" = hello\n')
    task = load_task(task_dir)
    assert task.disk_mb == 32 and Limits().disk_mb == 1024
    fill = "for i in 1 2 3 4; do dd if=/dev/zero of=big$i bs=1M count=16 2>&1 | grep -v records; done; du -sm /app /tmp"
    seen, reward, info, env = play(task, [fill, "dd if=/dev/zero of=/tmp/more bs=1M count=64 2>&1 | tail -1"])
    assert "No space left on device" in seen
    assert "disk" in info["limits_hit"]
    assert "[bashgym: stopped by the sandbox: disk limit (32 MiB" in seen
    assert_failed(reward, info)  # a full disk is the agent's doing: a fail, not "no score"
    canaries.assert_intact(seen)


def test_four_writes_of_200_mb_do_not_land_on_the_host(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("the disk quota is a tmpfs the host mounts as root")
    with Sandbox(limits=Limits(disk_mb=64, command_timeout_s=30)) as box:
        assert box.disk_quota
        result = box.run("for i in 1 2 3 4; do head -c 200M /dev/zero > f$i; done; ls -l; df -m /app | tail -1")
        used = sum(p.stat().st_size for p in box.workspace.iterdir())
        assert _mounts_under(box.root)  # the episode's files live on its own tmpfs, not in the host's /tmp
    assert used <= 64 * 2**20 and result.limit == "disk"


KILLED_PARENT = textwrap.dedent("""\
    import sys
    from bashgym.gym.env import BashTaskEnv
    env = BashTaskEnv("files-create-nested")
    env.reset(seed=0)
    env.step("nohup sleep 600 >/dev/null 2>&1 & echo started")
    print(env.sandbox.root, env.sandbox.uid, flush=True)
    sys.stdin.read()
    """)


def test_kill_9_of_the_parent_leaves_no_process_and_the_next_start_reaps_the_episode_dir(tmp_path: Path):
    parents = [subprocess.Popen([sys.executable, "-c", KILLED_PARENT], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    killed, alive = parents
    try:
        roots, uids = [], []
        for proc in parents:
            assert proc.stdout is not None
            root_text, uid_text = proc.stdout.readline().split()
            roots.append(Path(root_text))
            uids.append(None if uid_text == "None" else int(uid_text))
        assert all(r.name.startswith(EPISODE_PREFIX) and (r / "fs" / "app").is_dir() for r in roots)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        if uids[0] is not None:
            deadline = time.monotonic() + 10
            while _uid_pids(uids[0]) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _uid_pids(uids[0]) == []  # --die-with-parent: the sandbox went with its parent
        assert roots[0].exists()  # nobody cleaned up yet ...
        with Sandbox():
            pass  # ... the next start does, and leaves the episode of the live parent alone
        assert not roots[0].exists() and not _mounts_under(roots[0])
        assert (roots[1] / "fs" / "app").is_dir() and alive.poll() is None
    finally:
        alive.kill()
        alive.wait()


# ------------------------------------------------------------------ `bashgym verify` re-runs in the same sandbox


def test_bashgym_verify_reruns_a_recorded_command_in_the_same_sandbox(canaries: Canaries, tmp_path: Path):
    from bashgym.judge.verify import verify_turn
    from bashgym.schema import Session, Step, Turn

    root = tmp_path / "proj"
    root.mkdir()
    (root / "test_ok.py").write_text("import unittest\n\nclass T(unittest.TestCase):\n"
                                     "    def test_ok(self):\n        self.assertTrue(True)\n")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "t"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True,
                            text=True).stdout.strip()
    # The recorded "test command" is the attack: read host files, plant symlinks, count what it can see.
    command = (f"cat {canaries.secret}; ln -s {canaries.dir} /tmp/host; ls /tmp/host/; "
               "echo procs=$(ls /proc | grep -c '^[0-9]'); df -m . | tail -1; python3 -m unittest -q test_ok")
    steps = [Step(kind="tool_call", tool_name="Bash", input={"command": command}, exit_code=0, output="OK")]
    session = Session("v-attack", "claude_code", cwd=str(root), git_commit=commit, turns=[Turn(0, "t", steps)])
    result = verify_turn(session)
    assert result.runner == "sandbox (bubblewrap)" and result.passed
    procs = int(result.output_tail.split("procs=")[1].split()[0])
    assert procs <= 6  # a fresh PID namespace: nothing of the host, nothing of an earlier process
    canaries.assert_intact(result.output_tail)


# ------------------------------------------------------------------ through `bashgym eval`


def test_attacks_through_the_bashgym_eval_cli_pass_nothing_and_touch_nothing(canaries: Canaries, tmp_path: Path):
    suite = tmp_path / "suite"
    task_dir = suite / "hello-task"
    (task_dir / "tests").mkdir(parents=True)
    (task_dir / "task.yaml").write_text("id: hello-task\ncategory: files\ninstruction: ATTACK-ME write hello "
                                        "into hello.txt\ndisk_mb: 32\nmax_steps: 20\n")
    (task_dir / "tests" / "test.sh").write_text('#!/bin/bash\ntest "$(cat /app/hello.txt)" = hello\n')
    attacks = [
        f"for n in $(seq 1 20); do ln -sfn {canaries.secret} /tmp/out_$n; ln -sfn {canaries.secret} "
        f"/app/out_$n; done; rm -rf /logs/verifier; ln -s {canaries.dir} /logs/verifier; echo planted",
        "fmt=$(declare -f __bg_run | grep -o \"printf '[^']*'\" | head -1 | sed \"s/^printf '//; s/'$//\"); "
        "for fd in /proc/$$/fd/*; do n=${fd##*/}; [ \"$n\" -gt 2 ] || continue; ( while true; do "
        "for i in $(seq 1 40); do printf \"$fmt\" \"$i\" 0 1 /app >&\"$n\"; done; sleep 0.01; done ) "
        ">/dev/null 2>&1 & done; echo forging",
        "nohup setsid bash -c 'until [ -e /tests/test.sh ]; do sleep 0.005; done; echo hello > /app/hello.txt'"
        " >/dev/null 2>&1 & echo lurking",
        "for i in 1 2 3; do dd if=/dev/zero of=/app/big$i bs=1M count=16 2>&1 | grep -v records; done",
        f"cat {canaries.secret}; cat out_1",
    ]

    def policy(body: dict) -> dict:
        turn = assistant_turns(body)
        return bash_call(attacks[turn]) if turn < len(attacks) else say("Done.")

    home = tmp_path / "bg-home"
    with ScriptedOpenAIServer(policy) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "bashgym.cli", "eval", "--base-url", server.url, "--model", "attacker",
             "--tasks", str(suite), "-k", "1", "--workers", "1", "--home", str(home), "--json"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "BASHGYM_HOME": str(home)},
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)["evals"][0]
    assert summary["overall"]["pass@1"] == 0.0 and summary["ran"] == 1
    store = Store.open(home)
    try:
        rollouts = store.rollouts(summary["eval_id"])
        assert [r["status"] for r in rollouts] == ["failed"] and rollouts[0]["reward"] == 0.0
        assert "disk" in rollouts[0]["detail"]["limits_hit"]
        session = store.get_session(rollouts[0]["session_id"])
    finally:
        store.close()
    outputs = [s.output or "" for t in session.turns for s in t.steps]
    assert any("planted" in o for o in outputs) and any("No space left on device" in o for o in outputs)
    assert session.meta["limits_hit"] and session.meta["passed"] is False
    canaries.assert_intact(proc.stdout, proc.stderr, *outputs)
