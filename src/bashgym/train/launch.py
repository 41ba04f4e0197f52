"""`bashgym train KIND --num-processes N`: the same command, started N times by `accelerate launch`.

accelerate starts the processes (torchrun underneath: DDP over NCCL on GPUs, over gloo on the CPU), or
follows a config file the user passes (`--accelerate-config`: DeepSpeed, FSDP, several machines). Each
process runs `python -m bashgym.cli train KIND ...` without the launch flags; TRL's trainers shard the
batches, and only rank 0 writes the store, the adapter, run.json and the report (train/run.py).

The launch runs in this process (accelerate's own `launch_command`, as `accelerate launch` would run it):
torch is loaded here already, and a second interpreter would only load it again.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from bashgym.errors import ConfigError

# The run id the launcher chose for a new run (so the output dir it names and the store's row agree).
RUN_ID_ENV = "BASHGYM_RUN_ID"


def free_port() -> int:
    """A TCP port nothing listens on now: the rendezvous port of a one-machine launch (29500, torchrun's
    default, would collide with any other launch on the machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_launch_flags(num_processes: int | None, accelerate_config: Path | None) -> None:
    """Refuse a launch that cannot start, before anything is recorded or started."""
    if num_processes is None and accelerate_config is None:
        raise ConfigError("a launch needs --num-processes N (N >= 2) or --accelerate-config FILE")
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes must be 1 or more, got {num_processes}")
    if accelerate_config is not None and not accelerate_config.is_file():
        raise ConfigError(f"--accelerate-config {accelerate_config} does not exist (write one with "
                          "`accelerate config --config_file FILE`, or take one of TRL's in trl/accelerate_configs)")


def launch_args(kind: str, train_args: list[str], *, num_processes: int | None,
                accelerate_config: Path | None) -> list[str]:
    """The `accelerate launch` arguments that run `bashgym train KIND train_args` on every process.

    Without a config file: one machine, `num_processes` processes, DDP (`--multi_gpu` is accelerate's name
    for torchrun's launcher; on the CPU the trainers pick gloo). With one: its distributed type, machines
    and port hold, and `num_processes`, when given, overrides its count."""
    check_launch_flags(num_processes, accelerate_config)
    cmd: list[str] = []
    if accelerate_config is not None:
        cmd += ["--config_file", str(accelerate_config.resolve())]
    else:
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port())]
    if num_processes is not None:
        cmd += ["--num_processes", str(num_processes)]
    return [*cmd, "-m", "bashgym.cli", "train", kind, *train_args]


def run_launch(args: list[str], run_id: str | None) -> int:
    """Run `accelerate launch ARGS` in the foreground (its processes print to this terminal) and return
    its exit code; Ctrl-C reaches every process, and accelerate waits for them to stop."""
    from accelerate.commands.launch import launch_command, launch_command_parser

    if run_id:
        os.environ[RUN_ID_ENV] = run_id  # the processes inherit this environment
    try:
        launch_command(launch_command_parser().parse_args(args))
    except SystemExit as exc:  # accelerate exits with the processes' code on a failure or an interrupt
        return exc.code if isinstance(exc.code, int) else 1
    except Exception:  # noqa: BLE001 - torchrun's ChildFailedError: the processes printed their own errors
        return 1
    finally:
        os.environ.pop(RUN_ID_ENV, None)
    return 0
