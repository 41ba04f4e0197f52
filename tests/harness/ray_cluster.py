"""A real Ray cluster of two nodes on this machine, in a process of its own: a head and a second raylet, one
CPU each (Ray's `cluster_utils`: real GCS and raylet processes). It prints the cluster's GCS address on a line
of its own, then keeps the cluster up until its stdin closes, and stops both nodes.

Its own process, with the environment of a user's shell: a head started from a process that has joined a
Ray already (a test worker's shared `ray_session`) inherits its RAY_AUTH_MODE=token and finds no token.

    python tests/harness/ray_cluster.py        # prints HOST:PORT; close stdin to stop it
"""

from __future__ import annotations

import sys


def main() -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False},
                      shutdown_at_exit=False)
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        print(cluster.address, flush=True)
        sys.stdin.read()  # until the test closes our stdin (or dies: its end of the pipe closes with it)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
