"""The sandbox: exact per-command results in a persistent shell, and escapes tried and contained."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from bashgym.gym.sandbox import Limits, Sandbox, SandboxWarning, _uid_pids, detect_layer


@pytest.fixture()
def box():
    with Sandbox(limits=Limits(command_timeout_s=20)) as sandbox:
        yield sandbox


def test_strongest_layer_is_bubblewrap_here():
    # CI installs bubblewrap (scripts/test.sh), as does this machine.
    assert detect_layer().name == "bubblewrap"


def test_output_and_exit_code_are_exact_per_command(box: Sandbox):
    result = box.run("echo out1; echo err1 >&2; echo out2; (exit 7)")
    assert result.output == "out1\nerr1\nout2\n"
    assert result.exit_code == 7
    assert box.run("true").exit_code == 0 and box.run("true").output == ""
    assert box.run("nosuchcommand_xyz").exit_code == 127


def test_shell_state_persists_between_commands(box: Sandbox):
    box.run("mkdir -p sub/dir && cd sub/dir && export GREETING=hi")
    result = box.run('pwd; echo "$GREETING"')
    assert result.output == f"{box.workdir}/sub/dir\nhi\n"
    assert (box.workspace / "sub" / "dir").is_dir()


def test_commands_cannot_read_stdin_of_the_control_channel(box: Sandbox):
    result = box.run("cat; read -r line; echo done")
    assert result.output == "done\n" and result.exit_code == 0


def test_write_outside_the_workspace_is_contained(box: Sandbox, tmp_path: Path):
    outside = tmp_path / "escaped.txt"
    result = box.run(f"echo pwned > {outside}; echo pwned > /etc/escaped; echo pwned > /usr/escaped; echo inside > ok.txt")
    assert not outside.exists()
    assert not Path("/etc/escaped").exists() and not Path("/usr/escaped").exists()
    assert "Read-only file system" in result.output or "No such file" in result.output
    assert (box.workspace / "ok.txt").read_text() == "inside\n"


def test_real_home_ssh_keys_are_unreadable(isolated_home: Path):
    ssh = isolated_home / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY----- fake-secret-material\n")
    (ssh / "id_ed25519").chmod(0o600)
    with Sandbox() as box:
        result = box.run(f"cat {ssh}/id_ed25519; ls -a ~; cat ~/.ssh/id_ed25519")
    assert "fake-secret-material" not in result.output
    assert result.exit_code != 0


def test_network_is_unreachable_even_to_localhost(box: Sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        result = box.run(f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\"; "
                         "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)\"")
        # The host reaches its own server; the sandbox does not.
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    finally:
        server.close()
    assert "ConnectionRefusedError" in result.output or "Network is unreachable" in result.output
    assert "Network is unreachable" in result.output
    assert result.exit_code != 0


def test_fork_bomb_is_stopped_and_reported():
    with Sandbox(limits=Limits(max_processes=64, command_timeout_s=20)) as box:
        result = box.run(":(){ :|:& };:; sleep 2; echo survived")
        assert result.limit in ("processes", "timeout")
        assert "[bashgym: stopped by the sandbox" in result.output
        assert result.restarted
        assert box.run("echo alive").output == "alive\n"
        uid = box.uid
    if uid is not None:
        assert _uid_pids(uid) == []


def test_memory_hog_is_stopped_and_reported(box: Sandbox):
    with Sandbox(limits=Limits(memory_mb=512)) as small:
        result = small.run("python3 -c 'x = []\nwhile True: x.append(bytearray(64 * 1024 * 1024))'")
    assert result.limit == "memory"
    assert "MemoryError" in result.output and "memory limit (512 MiB" in result.output
    assert result.exit_code != 0


def test_infinite_loop_times_out_and_the_shell_comes_back_in_the_same_directory():
    with Sandbox(limits=Limits(command_timeout_s=1.5)) as box:
        box.run("mkdir -p deep && cd deep")
        result = box.run("while true; do :; done")
        assert result.timed_out and result.limit == "timeout" and result.exit_code == 124
        assert "wall-clock timeout" in result.output
        after = box.run("pwd")
        assert after.output == f"{box.workdir}/deep\n"


def test_cpu_limit_kills_a_spinning_process():
    with Sandbox(limits=Limits(cpu_s=1, command_timeout_s=20)) as box:
        result = box.run("python3 -c 'while True: pass'")
    assert result.limit == "cpu" and not result.timed_out
    assert "CPU time limit (1 s" in result.output


def test_ten_gigabyte_file_is_stopped_at_the_file_size_limit():
    with Sandbox(limits=Limits(max_file_mb=16)) as box:
        result = box.run("dd if=/dev/zero of=big.bin bs=1M count=10240")
        size = (box.workspace / "big.bin").stat().st_size
    assert result.limit == "file_size"
    assert "file size limit (16 MiB" in result.output
    assert size <= 16 * 1024 * 1024


def test_huge_output_is_truncated_and_says_so(box: Sandbox):
    result = box.run("seq 1 200000")
    assert result.truncated
    assert result.output.startswith("1\n2\n") and result.output.rstrip().endswith("200000")
    assert "characters of output cut" in result.output


def test_endless_output_is_stopped_at_the_output_limit_and_the_shell_comes_back():
    with Sandbox(limits=Limits(max_output_mb=1, command_timeout_s=20)) as box:
        box.run("cd /tmp")
        result = box.run("yes bashgym")
        assert result.limit == "output" and result.restarted and result.truncated
        assert result.output.startswith("bashgym\nbashgym\n") and "output limit (1 MiB" in result.output
        assert box.run("pwd").output == "/tmp\n"
        assert box.limits_hit == ["output"]


def test_background_output_shows_up_with_the_next_command(box: Sandbox):
    assert box.run("(sleep 0.2; echo late) &").output == ""
    time.sleep(0.5)
    assert box.run("echo now").output == "late\nnow\n"


def test_close_removes_the_episode_directory_and_processes():
    box = Sandbox()
    box.run("sleep 300 &")
    root, uid = box.root, box.uid
    box.close()
    assert not root.exists()
    if uid is not None:
        assert _uid_pids(uid) == []


def test_weak_layer_warns_loudly(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    monkeypatch.setenv("BASHGYM_SANDBOX", "rlimits")
    with pytest.warns(SandboxWarning, match="NO network isolation"), Sandbox() as box:
        assert box.layer == "rlimits"
        assert box.run("echo hi").output == "hi\n"
    assert "WARNING: bashgym sandbox layer is 'rlimits'" in capfd.readouterr().err


def test_unknown_forced_layer_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    from bashgym.errors import ConfigError

    monkeypatch.setenv("BASHGYM_SANDBOX", "bubblewrapp")
    with pytest.raises(ConfigError, match='did you mean "bubblewrap"'):
        detect_layer()


@pytest.mark.skipif(os.geteuid() != 0, reason="per-sandbox uids exist only when bashgym runs as root")
def test_each_sandbox_runs_as_its_own_uid():
    with Sandbox() as a, Sandbox() as b:
        assert a.run("id -u").output.strip() == str(a.uid)
        assert a.uid != b.uid
