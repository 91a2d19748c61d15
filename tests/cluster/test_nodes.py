"""`wharfd nodes`, `nodes:drain`, `nodes:remove` and `nodes:add` on a three-node Swarm: the node list an
operator reads, six Wharf dynos spread over the nodes, a worker drained and removed, and a new engine
joined with the command `nodes:add` printed. The tests run in order on one swarm."""

from __future__ import annotations

import shlex
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.types import Resources, ServiceMode

from tests.cluster.conftest import Wharfd, said
from tests.utils.test_cluster import SwarmTestCluster, wait_for_ready_nodes
from wharf.platform.runtime.base import (
    LABEL_APP,
    LABEL_DYNO,
    LABEL_INSTALLATION,
    LABEL_MANAGED,
    LABEL_PROCESS_TYPE,
    LABEL_RELEASE,
)

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

NODE_KEYS = {
    "id",
    "hostname",
    "role",
    "state",
    "availability",
    "address",
    "dynos",
    "cpu_free",
    "memory_free_mb",
}
WEB = ["busybox", "httpd", "-f", "-p", "5000", "-h", "/www"]
CPU_RESERVED = 0.25
MEMORY_RESERVED_MB = 64
MIB = 1024 * 1024


def _running_tasks(client: docker.DockerClient, service_id: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = client.api.tasks(filters={"service": service_id})
    return [task for task in tasks if task["Status"]["State"] == "running"]


def _wait_running(
    client: docker.DockerClient, service_id: str, count: int, patience: float = 180
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + patience
    while True:
        running = _running_tasks(client, service_id)
        if len(running) == count or time.monotonic() > deadline:
            return running
        time.sleep(0.5)


@pytest.fixture(scope="module")
def manager_client(swarm: SwarmTestCluster) -> Iterator[docker.DockerClient]:
    client = swarm.manager.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def web_service(swarm: SwarmTestCluster, manager_client: docker.DockerClient) -> Iterator[str]:
    """A web process of six dynos, labelled as Wharf labels its dynos, each reserving CPU and memory;
    and a service of the operator's own (no Wharf labels) that must not count as a dyno."""
    labels = {
        LABEL_MANAGED: "1",
        LABEL_APP: "spread",
        LABEL_PROCESS_TYPE: "web",
        LABEL_RELEASE: "1",
        LABEL_DYNO: "1",
        LABEL_INSTALLATION: "cluster-tier",
    }
    web = manager_client.services.create(
        swarm.image,
        command=WEB,
        name="spread-web",
        labels=labels,
        container_labels=labels,
        mode=ServiceMode("replicated", replicas=6),
        resources=Resources(
            cpu_reservation=int(CPU_RESERVED * 1e9), mem_reservation=MEMORY_RESERVED_MB * MIB
        ),
    )
    own = manager_client.services.create(swarm.image, command=WEB, name="operators-own")
    try:
        assert len(_wait_running(manager_client, web.id, 6)) == 6, "six dynos running"
        assert len(_wait_running(manager_client, own.id, 1)) == 1
        yield str(web.id)
    finally:
        web.remove()
        own.remove()


def test_nodes_json_lists_the_manager_and_two_workers(swarm: SwarmTestCluster, wharfd: Wharfd) -> None:
    listed = wharfd.nodes(swarm.manager)
    assert [set(node) for node in listed] == [NODE_KEYS] * 3
    by_address = {node["address"]: node for node in listed}
    assert set(by_address) == {host.address for host in swarm.nodes}
    assert by_address[swarm.manager.address]["role"] == "manager"
    assert [by_address[w.address]["role"] for w in swarm.workers] == ["worker", "worker"]
    assert {(node["state"], node["availability"]) for node in listed} == {("ready", "active")}
    assert {node["id"] for node in listed} == {swarm.node_id(host) for host in swarm.nodes}
    assert all(node["cpu_free"] > 0 and node["memory_free_mb"] > 0 for node in listed)
    table = wharfd.ok(swarm.manager, "nodes")
    assert "manager" in table and table.count("worker") == 2


def test_six_dynos_spread_over_the_nodes_and_each_node_counts_its_own(
    swarm: SwarmTestCluster, wharfd: Wharfd, manager_client: docker.DockerClient, web_service: str
) -> None:
    per_node = Counter(task["NodeID"] for task in _running_tasks(manager_client, web_service))
    assert len(per_node) == 3, f"the six dynos run on every node: {per_node}"
    listed = wharfd.nodes(swarm.manager)
    assert {node["id"]: node["dynos"] for node in listed} == dict(per_node)
    assert sum(node["dynos"] for node in listed) == 6, "the operator's own service is no dyno"
    for node in listed:
        resources = manager_client.api.inspect_node(node["id"])["Description"]["Resources"]
        dynos = per_node[node["id"]]
        assert node["cpu_free"] == pytest.approx(resources["NanoCPUs"] / 1e9 - CPU_RESERVED * dynos, abs=0.01)
        assert node["memory_free_mb"] == (resources["MemoryBytes"] - dynos * MEMORY_RESERVED_MB * MIB) // MIB


def test_removing_a_worker_that_runs_dynos_is_refused(
    swarm: SwarmTestCluster, wharfd: Wharfd, web_service: str
) -> None:
    worker = swarm.node_id(swarm.workers[1])
    refused = wharfd.run(swarm.manager, "nodes:remove", worker)
    assert refused.returncode == 1
    assert f"wharfd nodes:drain {worker}" in said(refused)
    assert worker in {node["id"] for node in wharfd.nodes(swarm.manager)}


def test_draining_a_worker_moves_its_dynos_to_the_other_nodes(
    swarm: SwarmTestCluster, wharfd: Wharfd, manager_client: docker.DockerClient, web_service: str
) -> None:
    worker = swarm.node_id(swarm.workers[0])
    had = sum(1 for task in _running_tasks(manager_client, web_service) if task["NodeID"] == worker)
    assert had > 0
    output = wharfd.ok(swarm.manager, "nodes:drain", worker)
    assert f"{had} dynos to move" in output and "drained, no dynos left" in output, output
    left = [
        t for t in manager_client.api.tasks(filters={"node": worker}) if t["Status"]["State"] == "running"
    ]
    assert left == [], "no task runs on the drained node"
    running = _wait_running(manager_client, web_service, 6)
    assert len(running) == 6 and worker not in {task["NodeID"] for task in running}
    drained = {node["id"]: node for node in wharfd.nodes(swarm.manager)}[worker]
    assert (drained["availability"], drained["dynos"]) == ("drain", 0)


def test_a_drained_worker_is_removed(swarm: SwarmTestCluster, wharfd: Wharfd, web_service: str) -> None:
    worker = swarm.node_id(swarm.workers[0])
    output = wharfd.ok(swarm.manager, "nodes:remove", worker)
    assert f"Removed node {worker}" in output
    assert worker not in {node["id"] for node in wharfd.nodes(swarm.manager)}


def test_nodes_add_prints_a_join_command_a_new_engine_joins_with(
    swarm: SwarmTestCluster, wharfd: Wharfd, manager_client: docker.DockerClient
) -> None:
    output = wharfd.ok(swarm.manager, "nodes:add")
    line = next(line.strip() for line in output.splitlines() if line.strip().startswith("wharfd node join"))
    argv = shlex.split(line)
    token = argv[argv.index("--token") + 1]
    assert token == manager_client.swarm.attrs["JoinTokens"]["Worker"]
    assert argv[-1] == f"{swarm.manager.address}:2377"
    before = {node["id"] for node in wharfd.nodes(swarm.manager)}
    with swarm.spare_host() as newcomer:
        not_joined = wharfd.run(newcomer, "nodes")
        assert not_joined.returncode == 1 and "run wharfd cluster init" in said(not_joined)
        nobody = f"{list(swarm.link.network.hosts())[-1]}:2377"
        unreachable = wharfd.run(newcomer, *argv[1:-1], nobody, timeout=120)
        assert unreachable.returncode == 1
        assert "2377/tcp on the manager" in unreachable.stdout and "FAILED" in unreachable.stdout
        assert "nothing was changed" in said(unreachable)
        joined = wharfd.ok(newcomer, *argv[1:])
        assert "2377/tcp on the manager" in joined and "FAILED" not in joined, joined
        wait_for_ready_nodes(swarm.manager, len(before) + 1)
        listed = {node["address"]: node for node in wharfd.nodes(swarm.manager)}
        assert listed[newcomer.address]["role"] == "worker"
        assert listed[newcomer.address]["state"] == "ready"
        newcomer_id = listed[newcomer.address]["id"]
        left = wharfd.ok(swarm.manager, "nodes:remove", "--force", newcomer_id)
        assert f"Removed node {newcomer_id}" in left


def test_an_unknown_node_is_named_with_where_to_look(swarm: SwarmTestCluster, wharfd: Wharfd) -> None:
    for command in ("nodes:drain", "nodes:remove"):
        done = wharfd.run(swarm.manager, command, "no-such-node")
        assert done.returncode == 1
        assert "no node 'no-such-node' in this swarm: wharfd nodes lists them" in said(done)


def test_a_second_manager_is_demoted_and_removed_once_drained(
    swarm: SwarmTestCluster, wharfd: Wharfd, manager_client: docker.DockerClient
) -> None:
    output = wharfd.ok(swarm.manager, "nodes:add", "--manager")
    line = next(line.strip() for line in output.splitlines() if line.strip().startswith("wharfd node join"))
    argv = shlex.split(line)
    assert argv[argv.index("--token") + 1] == manager_client.swarm.attrs["JoinTokens"]["Manager"]
    before = len(wharfd.nodes(swarm.manager))
    with swarm.spare_host() as newcomer:
        wharfd.ok(newcomer, *argv[1:])
        wait_for_ready_nodes(swarm.manager, before + 1)
        second = {node["address"]: node for node in wharfd.nodes(swarm.manager)}[newcomer.address]
        assert second["role"] == "manager"
        refused = wharfd.run(swarm.manager, "nodes:remove", second["id"])
        assert refused.returncode == 1 and "reachable manager: drain it first" in said(refused)
        wharfd.ok(swarm.manager, "nodes:drain", second["id"])
        removed = wharfd.ok(swarm.manager, "nodes:remove", second["id"])
        assert f"Removed node {second['id']}" in removed
        listed = wharfd.nodes(swarm.manager)
        assert second["id"] not in {node["id"] for node in listed}
        assert [node["role"] for node in listed].count("manager") == 1
        assert manager_client.info()["Swarm"]["ControlAvailable"], "the first manager still leads"
