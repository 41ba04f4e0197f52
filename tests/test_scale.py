"""bashgym.scale: joining Ray (the one way in for every `--engine ray`), with a real local Ray."""

from __future__ import annotations

import logging

import pytest

from bashgym.errors import ConfigError
from bashgym.scale.cluster import check_engine, check_ray_address, connect_ray


def test_connect_ray_reuses_the_running_ray_and_turns_its_logs_down(ray_session: dict) -> None:
    import ray
    import ray.data

    assert ray_session == {"address": "local", "cpus": 2, "started": False}
    assert connect_ray() == ray_session  # a second call joins nothing new
    assert ray.get(ray.remote(lambda: 6 * 7).remote()) == 42
    assert logging.getLogger("ray.data").getEffectiveLevel() == logging.ERROR
    assert ray.data.DataContext.get_current().enable_progress_bars is False


@pytest.mark.parametrize("address", ["auto", "ray://head.example:10001", "10.0.0.5:6379"])
def test_ray_addresses_a_cluster_answers_on_are_accepted(address: str) -> None:
    assert check_ray_address(address) == address
    assert check_ray_address(None) is None


def test_bad_engine_and_ray_address_name_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"--ray-address: got 'http://head:8265/'"):
        check_ray_address("http://head:8265/")
    with pytest.raises(ConfigError, match="--ray-address needs --engine ray"):
        check_ray_address("auto", engine="local")
    with pytest.raises(ConfigError, match=r"--engine: got 'rya'.*did you mean \"ray\""):
        check_engine("rya")
