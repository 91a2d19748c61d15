"""Add-ons under WHARF_RUNTIME=swarm: made on the manager's engine, on the app's attachable overlay network
even when the add-on comes before the app's first dyno, so the app's dynos reach it by name, on the
manager's node and on the others."""

from __future__ import annotations

import secrets
import time
from functools import partial
from pathlib import Path
from typing import cast

import docker
import pytest

from tests.utils.busybox_dynos import TEST_IMAGE, Apps, make_spec
from tests.utils.failover import live_tasks_of, wait_for
from tests.utils.test_cluster import SwarmTestCluster
from tests.utils.test_host import DockerTestHost
from wharf.platform.addons import build_addon_providers
from wharf.platform.addons.docker_provider import DockerAddonProvider
from wharf.platform.runtime.swarm_runtime import SwarmRuntime
from wharf.platform.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

ASK_THE_ADDON = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} 5432"


def test_an_addon_made_before_any_dyno_is_on_the_overlay_its_dynos_reach_it_on(
    swarm_host: DockerTestHost,
    swarm_runtime: SwarmRuntime,
    swarm_apps: Apps,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", swarm_host.docker_host)
    providers = build_addon_providers(Settings(wharf_runtime="swarm", wharf_data_dir=tmp_path))
    provider = cast(DockerAddonProvider, providers.for_kind("postgres"))
    app = f"rt-{secrets.token_hex(4)}"
    swarm_apps.names.append(app)  # its dynos and network are removed afterwards
    client = swarm_host.client()
    # A stand-in server where the add-on's container would be: the manager's engine, the add-on's network.
    addon = client.containers.run(
        TEST_IMAGE,
        ["busybox", "httpd", "-f", "-p", "5432", "-h", "/www"],
        name=f"addon-{app}",
        network=provider.ensure_app_network(app),
        user="1000:1000",
        detach=True,
    )
    try:
        network = client.networks.get(f"wharf-app-{app}").attrs
        said: list[bytes] = []
        code = swarm_runtime.run_oneoff(
            make_spec(app, ASK_THE_ADDON.format(host=f"addon-{app}"), process_type="run"),
            on_output=said.append,
            timeout=60,
        )
    finally:
        addon.remove(force=True)
        client.close()

    assert (network["Driver"], network["Scope"], network["Attachable"]) == ("overlay", "swarm", True)
    answer = b"".join(said).decode(errors="replace")
    assert code == 0, answer
    assert " 200 OK" in answer and "wharf test dyno" in answer


ASKS_THE_ADDON_AND_STAYS = ASK_THE_ADDON + "; echo asked; while true; do sleep 1; done"


def test_a_dyno_on_a_worker_node_reaches_an_addon_on_the_managers_engine_by_name(
    swarm: SwarmTestCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An add-on stays on the manager's engine; a dyno Swarm places on another node reaches it through
    the app's overlay network, by the name its config vars give."""
    monkeypatch.setenv("DOCKER_HOST", swarm.manager.docker_host)
    providers = build_addon_providers(Settings(wharf_runtime="swarm", wharf_data_dir=tmp_path))
    provider = cast(DockerAddonProvider, providers.for_kind("postgres"))
    manager = swarm.manager.client()
    runtime = SwarmRuntime(manager, installation=f"test-{secrets.token_hex(4)}")
    apps = Apps(runtime)
    worker = swarm.ready_worker()  # the node tests remove one
    worker_engine = worker.client()
    try:
        app = apps.new()
        addon = manager.containers.run(
            TEST_IMAGE,
            ["busybox", "httpd", "-f", "-p", "5432", "-h", "/www"],
            name=f"addon-{app}",
            network=provider.ensure_app_network(app),
            user="1000:1000",
            detach=True,
        )
        try:
            on_the_worker = {"wharf.placement.node": f"node.id=={swarm.node_id(worker)}"}
            dyno = runtime.start_dyno(
                make_spec(app, ASKS_THE_ADDON_AND_STAYS.format(host=f"addon-{app}"), labels=on_the_worker)
            )
            answer = _output_on(worker_engine, dyno.id, until="asked")
        finally:
            addon.remove(force=True)
    finally:
        apps.cleanup()
        for name in apps.names:
            wait_for(partial(_no_live_task, manager, name), 60, f"every task of {name} gone")
        worker_engine.close()
        manager.close()

    assert " 200 OK" in answer and "wharf test dyno" in answer, answer


def _output_on(engine: docker.DockerClient, service_id: str, *, until: str, timeout: float = 90) -> str:
    """What the task of SERVICE_ID printed, read from ENGINE (so the task runs there) once it said UNTIL."""
    deadline = time.monotonic() + timeout
    output = ""
    while time.monotonic() < deadline:
        for container in engine.containers.list(
            ignore_removed=True, all=True, filters={"label": f"com.docker.swarm.service.id={service_id}"}
        ):
            output = bytes(container.logs()).decode(errors="replace")
            if until in output:
                return output
        time.sleep(0.5)
    raise AssertionError(f"no task of {service_id} on this engine said {until!r}: {output!r}")


def _no_live_task(client: docker.DockerClient, app: str) -> bool:
    return not live_tasks_of(client, app)
