"""Losing a node of the test Swarm under load: a web formation spread over the nodes, run by Wharf's
scheduler on the Swarm runtime and served by a real router, with clients requesting it all along.

Shared by tests/cluster/test_losing_a_node.py and bench/cluster_failover.py. A node "dies" as a host
losing power does to the others: its link to the cluster's bridge goes down and its dockerd gets
SIGKILL, so its containers stop answering without a word (they keep running, unreachable, until
the engine is started again: with live-restore off it ends them as it starts).
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import docker
import redis

from tests.utils.busybox_dynos import WEB
from tests.utils.chaos import Load
from tests.utils.router import RouterHarness, running_router
from tests.utils.scheduler_world import QUICK_OPTIONS, World, world_on
from tests.utils.test_cluster import SwarmTestCluster, wait_for_ready_nodes
from tests.utils.test_host import DockerTestHost
from wharf.platform.migrate import upgrade_database
from wharf.platform.runtime.base import LABEL_APP, Dyno
from wharf.platform.runtime.swarm_runtime import SwarmRuntime
from wharf.platform.runtime.swarm_tasks import is_terminal
from wharf.router.render import RouterPaths

POLL_SECONDS = 0.1


@dataclass
class Failover:
    """An app's web formation on the cluster, its scheduler's loop running, and its router."""

    cluster: SwarmTestCluster
    world: World
    router: RouterHarness
    app: str
    web: int
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def host(self) -> str:
        return f"{self.app}.localhost"

    def load(self, clients: int = 4) -> Load:
        return Load(
            url=f"http://127.0.0.1:{self.router.settings.http_port}/", host=self.host, clients=clients
        )

    def web_dynos(self) -> list[Dyno]:
        return [d for d in self.world.dynos(self.app) if d.process_type == "web"]

    def dynos_on(self, node: DockerTestHost) -> list[Dyno]:
        return [d for d in self.web_dynos() if d.running and d.address and d.address[0] == node.address]

    def busiest_worker(self) -> DockerTestHost:
        return max(self.cluster.workers, key=lambda node: len(self.dynos_on(node)))

    def routed_to(self, node: DockerTestHost) -> bool:
        """Whether the router's nginx still has a backend on `node` (in the config it serves)."""
        served = RouterPaths(self.router.state_dir).config.read_text()
        return f"server {node.address}:" in served

    def sent_to(self, node: DockerTestHost) -> bool:
        """Whether nginx sends requests to a dyno on `node`: routed, not standby, in the config it serves."""
        served = RouterPaths(self.router.state_dir).config.read_text()
        return any(
            line.strip().startswith(f"server {node.address}:") and " backup;" not in line
            for line in served.splitlines()
        )

    def whole(self, *, without: DockerTestHost | None = None, quantity: int | None = None) -> bool:
        """Every web slot has an up dyno (on a node other than `without`), and all are routed."""
        wanted = self.web if quantity is None else quantity
        up = [d for d in self.web_dynos() if d.running and d.address]
        if without is not None and any(d.address and d.address[0] == without.address for d in up):
            return False
        numbers = sorted(d.number for d in up)
        routed = self.world.backends(self.app)
        return numbers == list(range(1, wanted + 1)) and len(routed) == wanted

    def scale(self, web: int) -> None:
        self.world.scale(self.app, web=web)
        self.web = web
        self.world.scheduler.wake()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` until it holds; the seconds it took. AssertionError after `timeout` seconds."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not so after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - began


def kill_node(node: DockerTestHost) -> None:
    """The node is gone for the others: its link down, its engine killed without a chance to say so."""
    subprocess.run(["ip", "link", "set", node.host_link, "down"], check=True)
    node.kill_dockerd()


def revive_node(cluster: SwarmTestCluster, node: DockerTestHost) -> None:
    """Link up and engine started again: the node rejoins the swarm as itself."""
    subprocess.run(["ip", "link", "set", node.host_link, "up"], check=True)
    if not node.answers():
        node.start_dockerd()
    wait_for_ready_nodes(cluster.manager, len(cluster.nodes))


@contextlib.contextmanager
def failover_app(
    cluster: SwarmTestCluster, redis_client: redis.Redis[bytes], database_dir: str, web: int
) -> Iterator[Failover]:
    """`web` web dynos of a deployed app on the cluster, every one routed, the scheduler's loop running."""
    url = f"sqlite:///{database_dir}/wharf.db"
    upgrade_database(url)
    client = cluster.manager.client()
    runtime = SwarmRuntime(client, installation=f"failover-{secrets.token_hex(4)}")
    app = ""
    try:
        with (
            running_router(redis_client) as router,
            world_on(runtime, redis_client, url, QUICK_OPTIONS) as world,
        ):
            app = world.new_app()
            world.release(app, {"web": WEB}, image=cluster.image)
            status, lines = world.deploy(app)
            assert status == "succeeded", lines
            scenario = Failover(cluster=cluster, world=world, router=router, app=app, web=1)
            loop = threading.Thread(target=world.scheduler.run, args=(scenario.stop,), daemon=True)
            loop.start()
            try:
                scenario.scale(web)
                wait_for(scenario.whole, 120, f"{web} web dynos up and routed")
                yield scenario
            finally:
                scenario.stop.set()
                world.scheduler.wake()
                loop.join(timeout=30)
        # A removed service's tasks hold their nodes' reservations until they have stopped.
        wait_for(lambda: not live_tasks_of(client, app), 60, f"every task of {app} gone")
    finally:
        client.close()


def live_tasks_of(client: docker.DockerClient, app: str) -> list[str]:
    """The tasks of `app`'s dynos that have not ended, removed services' included."""
    return [
        str(task["ID"])
        for task in client.api.tasks()
        if ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Labels", {}).get(LABEL_APP) == app
        and not is_terminal(task)
    ]
