"""A node agent's build host on a thread of this process, against this machine's engine: what a
builder node's agent runs, for tests and benchmarks without a swarm."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import docker

from wharf.platform.cluster.build_host import MAX_BUILDS, BuildHost


@contextmanager
def serving_build_host(
    redis_url: str, node_id: str, *, installation: str | None = None, max_builds: int = MAX_BUILDS
) -> Iterator[BuildHost]:
    """A build host for NODE_ID (of INSTALLATION) listening on REDIS_URL until the block ends."""
    client = docker.from_env()
    host = BuildHost(redis_url, client, node_id=node_id, installation=installation, max_builds=max_builds)
    stop = threading.Event()
    thread = threading.Thread(target=host.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        assert host.listening.wait(20), "the build host did not subscribe"
        yield host
    finally:
        stop.set()
        thread.join(timeout=30)
        client.close()
