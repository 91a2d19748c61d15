"""A one-node Docker Swarm on a private test host (tests/utils/test_host.py), for the cluster tier.

The test host's engine runs without live-restore (Swarm mode refuses it); the Swarm advertises the
namespace's address, so a task's host-mode published port answers from the host at that address.
Overlay networks come from 10.235.0.0/16, away from the host's own networks (Swarm's default pool
is all of 10.0.0.0/8). The engine has a data root of its own, removed on the way out, so it never
waits for (or holds) the cached data root that the dockerd restart tier's test hosts share.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors

from tests.utils.busybox_dynos import build_test_image
from tests.utils.test_host import CACHE_ROOT, DockerTestHost, docker_test_host

OVERLAY_ADDRESS_POOL = "10.235.0.0/16"


@contextlib.contextmanager
def swarmless_test_host(prefix: str = "swarm-") -> Iterator[DockerTestHost]:
    """A private test host that may become a Swarm manager (live-restore off, a data root of its own),
    in no swarm yet, with the busybox image loaded; it leaves any swarm it joined on the way out."""
    (CACHE_ROOT / "swarms").mkdir(parents=True, exist_ok=True, mode=0o700)
    data_root = Path(tempfile.mkdtemp(prefix=prefix, dir=CACHE_ROOT / "swarms"))
    with docker_test_host(live_restore=False, data_root=data_root) as host:
        client = host.client()
        try:
            build_test_image(client)
            yield host
        finally:
            _leave_swarm(client)
            client.close()


@contextlib.contextmanager
def swarm_test_host() -> Iterator[DockerTestHost]:
    """A private test host that is the manager of a Swarm of its own, with the busybox image loaded."""
    with swarmless_test_host() as host:
        client = host.client()
        try:
            client.swarm.init(
                advertise_addr=host.address,
                listen_addr=f"{host.address}:2377",
                default_addr_pool=[OVERLAY_ADDRESS_POOL],
                subnet_size=24,
            )
            yield host
        finally:
            client.close()


def _leave_swarm(client: docker.DockerClient) -> None:
    if client.info()["Swarm"]["LocalNodeState"] == "inactive":
        return
    with contextlib.suppress(docker.errors.APIError):
        for service in client.services.list():
            service.remove()
        client.swarm.leave(force=True)
