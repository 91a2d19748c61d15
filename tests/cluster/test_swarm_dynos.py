"""What a user of a Swarm install checks of a dyno: it answers at the address Wharf routes to, it runs
within its size and hardened, a crash stays a crash for Wharf's scheduler to handle (Swarm does not
restart it), and it runs only on nodes its placement allows."""

from __future__ import annotations

import time

import pytest

from tests.utils.busybox_dynos import CRASHES, WEB, Apps, http_get, make_spec
from tests.utils.test_host import DockerTestHost
from wharf.platform.runtime import DynoState, size_named
from wharf.platform.runtime.swarm_runtime import NoNodeFits, SwarmRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def test_a_dyno_answers_http_at_its_nodes_address_and_published_port(
    swarm_runtime: SwarmRuntime, swarm_apps: Apps, swarm_host: DockerTestHost
) -> None:
    dyno = swarm_runtime.start_dyno(make_spec(swarm_apps.new(), WEB))

    assert dyno.address is not None
    assert dyno.address[0] == swarm_host.address, "the node's address, not an overlay address"
    assert dyno.address[1] != 5000, "a host-mode port the engine picked"
    status, body = http_get(dyno.address)
    assert (status, body) == (200, b"wharf test dyno\n")


def test_a_dynos_size_is_its_tasks_limits_and_its_container_is_hardened(
    swarm_runtime: SwarmRuntime, swarm_apps: Apps, swarm_host: DockerTestHost
) -> None:
    size = size_named("standard")
    dyno = swarm_runtime.start_dyno(make_spec(swarm_apps.new(), WEB, size="standard", read_only_root=True))

    client = swarm_host.client()
    try:
        service = client.api.inspect_service(dyno.id)
        resources = service["Spec"]["TaskTemplate"]["Resources"]
        assert resources["Limits"]["MemoryBytes"] == size.memory_bytes
        assert resources["Reservations"]["MemoryBytes"] == size.memory_bytes
        assert resources["Limits"]["NanoCPUs"] == size.nano_cpus
        assert 0 < resources["Reservations"]["NanoCPUs"] < size.nano_cpus
        (task,) = client.api.tasks(filters={"service": dyno.id})
        host_config = client.api.inspect_container(task["Status"]["ContainerStatus"]["ContainerID"])
        assert host_config["HostConfig"]["Memory"] == size.memory_bytes
        assert host_config["HostConfig"]["NanoCpus"] == size.nano_cpus
        assert host_config["HostConfig"]["PidsLimit"] == size.pids_limit
        assert host_config["HostConfig"]["CapDrop"] == ["ALL"]
        assert host_config["HostConfig"]["ReadonlyRootfs"] is True
        assert host_config["Config"]["User"] == "1000:1000"
    finally:
        client.close()
    status, _ = http_get(dyno.address or ("", 0))
    assert status == 200, "a read-only root still serves (its /tmp is a tmpfs)"


def test_a_crashed_dyno_reports_its_exit_code_and_swarm_does_not_restart_it(
    swarm_runtime: SwarmRuntime, swarm_apps: Apps, swarm_host: DockerTestHost
) -> None:
    dyno = swarm_runtime.start_dyno(make_spec(swarm_apps.new(), CRASHES))

    assert swarm_runtime.wait(dyno.id, timeout=30) == 2
    time.sleep(3)  # Swarm would have started a replacement task by now under any other restart policy

    crashed = swarm_runtime.get_dyno(dyno.id)
    assert (crashed.state, crashed.exit_code) == (DynoState.CRASHED, 2)
    assert crashed.finished_at is not None and crashed.address is None
    client = swarm_host.client()
    try:
        assert len(client.api.tasks(filters={"service": dyno.id})) == 1
    finally:
        client.close()


def test_a_placement_label_keeps_a_dyno_off_nodes_without_the_role(
    swarm_runtime: SwarmRuntime, swarm_apps: Apps, swarm_host: DockerTestHost
) -> None:
    app = swarm_apps.new()
    spec = make_spec(app, WEB, labels={"wharf.placement.role": "node.labels.wharf.role==web"})

    with pytest.raises(NoNodeFits):
        swarm_runtime.start_dyno(spec)
    assert swarm_runtime.list_dynos(app) == []

    client = swarm_host.client()
    try:
        (node,) = client.nodes.list()
        node.update({**node.attrs["Spec"], "Labels": {"wharf.role": "web"}})
        try:
            dyno = swarm_runtime.start_dyno(spec)
            assert dyno.state is DynoState.UP
        finally:
            node.reload()
            node.update({**node.attrs["Spec"], "Labels": {}})
    finally:
        client.close()
