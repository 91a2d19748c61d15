"""A Docker Swarm of private test hosts on this machine: a manager and two workers, each a dockerd of
its own (tests/utils/test_host.py) with its own data root, live-restore off (Swarm refuses it), in a
network namespace whose veth joins one host bridge, so the nodes reach each other on one subnet of
WHARF_TEST_CLUSTER_SUBNETS (default 10.234.0.0/16, a free /24 of it per cluster). Docker's br_netfilter
sends bridged frames through the host's FORWARD chain (policy DROP), so an ACCEPT rule for the bridge goes
into DOCKER-USER while the cluster lives. Every address is on this machine; everything is torn down on
the way out, failure or not.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.utils.busybox_dynos import build_test_image
from tests.utils.test_host import CACHE_ROOT, RUN_ROOT, DockerTestHost, SharedLink, docker_test_host
from wharf.platform.cluster.membership import init_swarm, join_swarm

DEFAULT_CLUSTER_SUBNETS = "10.234.0.0/16"


@dataclass
class SwarmTestCluster:
    manager: DockerTestHost
    workers: list[DockerTestHost]
    link: SharedLink
    image: str

    @property
    def nodes(self) -> list[DockerTestHost]:
        return [self.manager, *self.workers]

    def node_id(self, host: DockerTestHost) -> str:
        client = host.client()
        try:
            return str(client.info()["Swarm"]["NodeID"])
        finally:
            client.close()

    def ready_worker(self) -> DockerTestHost:
        """A worker still in the swarm, ready and active (the node tests remove one)."""
        manager = self.manager.client()
        try:
            ready = {
                node["Status"].get("Addr")
                for node in manager.api.nodes()
                if node["Status"]["State"] == "ready" and node["Spec"]["Availability"] == "active"
            }
        finally:
            manager.close()
        return next(host for host in self.workers if host.address in ready)

    @contextlib.contextmanager
    def spare_host(
        self, *, live_restore: bool = False, offline_images: bool = True
    ) -> Iterator[DockerTestHost]:
        """One more engine on the cluster's bridge, in no swarm yet, with the image loaded."""
        with _node_host(self.link, live_restore=live_restore, offline_images=offline_images) as host:
            _load_image(host)
            yield host


def _iptables(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", *argv], capture_output=True, text=True, check=False)


def _free_network() -> ipaddress.IPv4Network:
    pool = ipaddress.IPv4Network(os.environ.get("WHARF_TEST_CLUSTER_SUBNETS", DEFAULT_CLUSTER_SUBNETS))
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    taken = [
        ipaddress.IPv4Network(line.split()[0], strict=False)
        for line in routes.splitlines()
        if "/" in line.split()[0]
    ]
    for network in pool.subnets(new_prefix=24):
        if not any(network.overlaps(other) for other in taken):
            return network
    raise RuntimeError(f"no free /24 left in {pool} (WHARF_TEST_CLUSTER_SUBNETS)")


@contextlib.contextmanager
def host_bridge() -> Iterator[SharedLink]:
    """A host bridge on a free /24, its forwarding accepted in DOCKER-USER; both gone afterwards."""
    bridge = f"wthb{secrets.token_hex(3)}"
    rule = ["DOCKER-USER", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    lock = RUN_ROOT / "addresses.lock"
    lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            network = _free_network()
            for argv in (
                ["ip", "link", "add", bridge, "type", "bridge"],
                ["ip", "addr", "add", f"{next(network.hosts())}/{network.prefixlen}", "dev", bridge],
                ["ip", "link", "set", bridge, "up"],
            ):
                subprocess.run(argv, capture_output=True, text=True, check=True)
        added = _iptables("-I", *rule)
        if added.returncode != 0:
            raise RuntimeError(f"iptables -I {' '.join(rule)}: {added.stderr.strip()}")
        yield SharedLink(bridge=bridge, network=network)
    finally:
        while _iptables("-C", *rule).returncode == 0:
            _iptables("-D", *rule)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


@contextlib.contextmanager
def _node_host(
    link: SharedLink, *, live_restore: bool = False, offline_images: bool = True
) -> Iterator[DockerTestHost]:
    (CACHE_ROOT / "nodes").mkdir(parents=True, exist_ok=True, mode=0o700)
    data_root = Path(tempfile.mkdtemp(prefix="node-", dir=CACHE_ROOT / "nodes"))
    with docker_test_host(
        live_restore=live_restore, data_root=data_root, shared=link, offline_images=offline_images
    ) as host:
        yield host


def _load_image(host: DockerTestHost) -> str:
    client = host.client()
    try:
        return build_test_image(client)
    finally:
        client.close()


def join_as_worker(cluster_manager: DockerTestHost, host: DockerTestHost) -> None:
    manager = cluster_manager.client()
    joining = host.client()
    try:
        token = manager.swarm.attrs["JoinTokens"]["Worker"]
        join_swarm(
            joining, token=token, manager=f"{cluster_manager.address}:2377", advertise_address=host.address
        )
    finally:
        manager.close()
        joining.close()


def wait_for_ready_nodes(manager: DockerTestHost, count: int, timeout: float = 120.0) -> None:
    client = manager.client()
    try:
        deadline = time.monotonic() + timeout
        while True:
            ready = [n for n in client.api.nodes() if n.get("Status", {}).get("State") == "ready"]
            if len(ready) >= count:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(ready)} of {count} swarm nodes ready after {timeout:.0f} s")
            time.sleep(0.5)
    finally:
        client.close()


@contextlib.contextmanager
def swarm_test_cluster(workers: int = 2) -> Iterator[SwarmTestCluster]:
    """A manager and `workers` workers joined into one swarm, the busybox test image on every node."""
    with contextlib.ExitStack() as stack:
        link = stack.enter_context(host_bridge())
        hosts = [stack.enter_context(_node_host(link)) for _ in range(workers + 1)]
        image = ""
        for host in hosts:
            image = _load_image(host)
        manager, *others = hosts
        client = manager.client()
        try:
            init_swarm(client, manager.address)
        finally:
            client.close()
        for host in others:
            join_as_worker(manager, host)
        wait_for_ready_nodes(manager, len(hosts))
        yield SwarmTestCluster(manager=manager, workers=others, link=link, image=image)
