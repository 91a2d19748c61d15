"""An attached `wharf run` on the three-node Swarm: the one-off runs on the manager's engine, on the app's
overlay network, where it reaches a web dyno of the app on a worker by its service's name; its output
and exit code come back to the client, `wharf ps` lists it while it runs, and it is gone afterwards."""

from __future__ import annotations

import asyncio

import docker
import pytest

from tests.utils.attached_output import stdout_after_end_of_input
from tests.utils.busybox_dynos import WEB, Apps, make_spec
from tests.utils.failover import live_tasks_of, wait_for
from tests.utils.test_cluster import SwarmTestCluster
from wharf.platform.actions.dynos import list_dyno_statuses
from wharf.platform.runtime.base import (
    DynoNotFound,
    DynoState,
    NetworkInUse,
    size_named,
)
from wharf.platform.runtime.swarm_runtime import SwarmRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

# Waits for the end of its input, so that it is seen running first, then asks the web dyno by name.
ASKS_THE_WEB_DYNO = "cat >/dev/null; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 {host} 5000; exit 5"


def test_an_attached_one_off_runs_on_the_manager_and_reaches_a_worker_dyno_over_the_overlay(
    swarm: SwarmTestCluster,
) -> None:
    manager = swarm.manager.client()
    runtime = SwarmRuntime(manager)
    apps = Apps(runtime)
    app = apps.new()
    try:
        worker = swarm.ready_worker()
        on_a_worker = {"wharf.placement.node": f"node.id=={swarm.node_id(worker)}"}
        web = runtime.start_dyno(make_spec(app, WEB, labels=on_a_worker))
        service_name = manager.api.inspect_service(web.id)["Spec"]["Name"]
        spec = make_spec(app, ASKS_THE_WEB_DYNO.format(host=service_name), process_type="run", number=4821)
        attached = runtime.start_attached(spec, tty=False)
        try:
            listed = {status.name: status.state for status in list_dyno_statuses(runtime, app)}
            assert listed == {"run.4821": "up", "web.1": "up"}
            container = manager.containers.get(attached.id)
            assert f"wharf-app-{app}" in container.attrs["NetworkSettings"]["Networks"]
            host_config = container.attrs["HostConfig"]
            assert "no-new-privileges" in host_config["SecurityOpt"] and host_config["CapDrop"] == ["ALL"]
            assert host_config["Memory"] == size_named("basic").memory_bytes
            assert container.attrs["Config"]["User"] == "1000:1000"
            with pytest.raises(NetworkInUse):
                runtime.remove_network(app)

            output = asyncio.run(stdout_after_end_of_input(attached))
            code = attached.wait()
        finally:
            attached.remove()

        assert runtime.get_dyno(web.id).address[0] == worker.address  # type: ignore[index]
        text = output.decode(errors="replace")
        assert code == 5, text
        assert " 200 OK" in text and "wharf test dyno" in text, text
        assert [dyno.dyno for dyno in runtime.list_dynos(app)] == ["web.1"]
        with pytest.raises(docker.errors.NotFound):
            manager.containers.get(attached.id)
        with pytest.raises(DynoNotFound):
            runtime.get_dyno(attached.id)
        assert runtime.get_dyno(web.id).state == DynoState.UP
    finally:
        apps.cleanup()
        # A removed service's tasks hold their nodes' reservations until they have stopped.
        wait_for(lambda: not live_tasks_of(manager, app), 60, f"every task of {app} gone")
        manager.close()
