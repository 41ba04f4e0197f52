"""Connecting to Ray: a local one started in this process, or an existing cluster (`--ray-address`).

Ray logs INFO lines, a token-auth notice and Ray Data progress bars to stderr; a bashgym command prints its
own progress and summary, so those are turned down to errors here (Ray's full logs stay in its session
directory, /tmp/ray/session_latest/logs).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bashgym.errors import BashgymError, ConfigError, bad_value, choice_error, require

ENGINES = ("local", "ray")
_ADDRESS = re.compile(r"^(auto|ray://[^\s:/]+:\d+|[^\s:/]+:\d+)$")


def check_engine(engine: str, flag: str = "--engine") -> str:
    """The engine named by a flag, refused with the choices when it is not one."""
    if engine not in ENGINES:
        raise choice_error(flag, engine, ENGINES)
    return engine


def check_ray_address(address: str | None, engine: str = "ray") -> str | None:
    """`None` (start a local Ray), `auto` (the cluster this machine joined with `ray start`), `ray://HOST:PORT`
    (Ray Client) or `HOST:PORT` (a head node's GCS). Refused with `--engine local`, where it would do nothing."""
    if address is None or address == "":
        return None
    if engine != "ray":
        raise ConfigError(f"--ray-address needs --engine ray (got --engine {engine})")
    if not _ADDRESS.match(address):
        raise ConfigError(bad_value("--ray-address", address, "auto, ray://HOST:PORT or HOST:PORT"))
    return address


def quiet_ray() -> None:
    """Keep Ray's INFO lines and Ray Data's progress bars out of bashgym's output (errors still show)."""
    import ray.data  # first: importing it configures its loggers (INFO)

    for name in ("ray", "ray.data", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def connect_ray(address: str | None = None, *, num_cpus: int | None = None) -> dict[str, Any]:
    """Join Ray once per process and say what was joined: {"address", "cpus", "started"}.

    `address` None starts a local Ray (`num_cpus` of this machine's cores, all by default) unless this process
    is already connected (a test session's Ray, or an earlier call), which is then reused as is.
    """
    require("ray", "scale")
    import ray

    address = check_ray_address(address)
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                                      configure_logging=True)
        if address is None:
            kwargs["num_cpus"] = num_cpus
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            raise BashgymError(f"--ray-address {address}: no Ray cluster answered ({exc}); start one with "
                               "`ray start --head` (docs/scale.md) or leave --ray-address out for a local Ray"
                               ) from None
        started = True
    quiet_ray()
    cpus = int(ray.cluster_resources().get("CPU", 0))
    where = address or "local"
    return {"address": where, "cpus": cpus, "started": started}
