"""The node agents (`wharfd cluster agents`) on a test swarm, shipping into a Redis on its bridge."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from tests.utils.bridge_redis import BridgeRedis, bridge_redis
from tests.utils.failover import wait_for
from tests.utils.network import free_port
from tests.utils.test_cluster import SwarmTestCluster
from wharf.platform.cluster.agent_image import ensure_agent_image
from wharf.platform.cluster.agent_service import AGENT_LABEL, remove_node_agents
from wharf.platform.stack import ensure_stack_images

# `wharfd` on the swarm's manager: its arguments, then what it printed.
WharfdOnManager = Callable[..., str]


@dataclass(frozen=True)
class NodeAgents:
    redis: BridgeRedis
    said: str


def _agent_containers_left(swarm: SwarmTestCluster) -> int:
    left = 0
    for node in swarm.nodes:
        client = node.client()
        try:
            left += len(client.containers.list(ignore_removed=True, filters={"label": f"{AGENT_LABEL}=1"}))
        finally:
            client.close()
    return left


@contextlib.contextmanager
def running_node_agents(
    swarm: SwarmTestCluster, wharfd: WharfdOnManager, sockets: Path
) -> Iterator[NodeAgents]:
    """`wharfd cluster agents`: an agent on every node of `swarm`, shipping into a Redis on its bridge;
    removed afterwards, and waited for until no agent's container is left (one still running could
    write on its node after the test)."""
    host_engine = docker.from_env()
    try:
        # Built on the stack's run image: built here if this run is the first to need it.
        ensure_stack_images(progress=lambda line: print(line, flush=True))
        image = ensure_agent_image(host_engine)
    finally:
        host_engine.close()
    sockets.mkdir()
    for node in swarm.nodes:
        # No run image on the test engines to build it from: load the host's build.
        node.load_images([image])
        # All test engines share one file system: each node finds its own socket by its node id.
        (sockets / f"{swarm.node_id(node)}.sock").symlink_to(node.socket)
    with bridge_redis(swarm.link, free_port()) as served:
        engine_socket = f"{sockets}/{{{{.Node.ID}}}}.sock"
        said = wharfd("cluster", "agents", "--agents-redis-url", served.url, "--engine-socket", engine_socket)
        try:
            yield NodeAgents(served, said)
        finally:
            client = swarm.manager.client()
            try:
                remove_node_agents(client)
            finally:
                client.close()
            wait_for(lambda: _agent_containers_left(swarm) == 0, 60, "every node agent's container gone")
