"""One real local Ray per test worker (the `ray_session` fixture in conftest.py): starting Ray takes
seconds, so every test that runs an engine on Ray shares it rather than starting its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def start_local_ray() -> Iterator[dict[str, Any]]:
    """Start Ray on 2 CPUs in this process (no dashboard, workers' output kept out of the test's), yield what
    `connect_ray` says about it, and shut it down afterwards even when tests failed."""
    ray = pytest.importorskip("ray", reason="needs the [scale] extra (ray[data])")
    import logging

    from bashgym.scale.cluster import connect_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield connect_ray()
    finally:
        ray.shutdown()
