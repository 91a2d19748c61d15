"""What an operator checks after `wharfd cluster agents`: a dyno on a worker node has its output in its
app's log (once, though every node runs an agent), its memory in the app's metrics and what it sends to
STATSD_HOST:STATSD_PORT in its app's own series, by the node agent of that worker, through the control
plane's Redis as the nodes reach it; an attached `wharf run` (a container on the manager's engine) sends
to its own STATSD_HOST, received by the manager's agent."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import secrets
import tarfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.cluster.conftest import Wharfd
from tests.utils.attached_output import stdout_after_end_of_input
from tests.utils.bridge_redis import BridgeRedis
from tests.utils.busybox_dynos import Apps, make_spec
from tests.utils.failover import live_tasks_of, wait_for
from tests.utils.node_agents import running_node_agents
from tests.utils.scripted_build import scripted_compile
from tests.utils.test_cluster import SwarmTestCluster
from wharf.platform.actions.apps import forget_app_leftovers
from wharf.platform.builds.builder_nodes import choose_builder_node
from wharf.platform.builds.relay_wire import cache_volume
from wharf.platform.builds.relay_wire import requests_channel as builds_channel
from wharf.platform.builds.relayed_compile import RelayedCompiler
from wharf.platform.cluster.agent_image import ensure_agent_image
from wharf.platform.cluster.agent_service import AGENT_SERVICE
from wharf.platform.cluster.node_agent import NODE_STATSD_PORT
from wharf.platform.logs.stream import recent_lines
from wharf.platform.metrics.store import MetricsStore
from wharf.platform.runtime.base import MIB, NetworkInUse
from wharf.platform.runtime.node_room import is_live, reserved_per_node
from wharf.platform.runtime.oneoff_wire import requests_channel
from wharf.platform.runtime.placement import PlacementNode, swarm_placement_node
from wharf.platform.runtime.swarm_remote_attach import RemoteOneOffs
from wharf.platform.runtime.swarm_runtime import NoNodeFits, SwarmRuntime
from wharf.platform.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

PRINTS_AND_STAYS = "echo hello from a worker node; while true; do sleep 0.2; done"
# A dyno that counts a signup every half second with a statsd client's one call, and claims another
# app's series too (which counts in its own).
SENDS_STATSD = """
import os, socket, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    statsd = (os.environ["STATSD_HOST"], int(os.environ["STATSD_PORT"]))
    sock.sendto(b"signups:1|c\\nother-app.signups:1|c", statsd)
    time.sleep(0.5)
"""
# A one-off job that counts what it did, then ends.
JOB_SENDS_STATSD = """
import os, socket, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(40):
    sock.sendto(b"jobs.done:1|c", (os.environ["STATSD_HOST"], int(os.environ["STATSD_PORT"])))
    time.sleep(0.25)
print("sent to", os.environ["STATSD_HOST"])
"""
SENDER_IMAGE = "wharf/test-statsd-sender:latest"


def statsd_sender_image(swarm: SwarmTestCluster) -> str:
    """An image with python3 (the agent's) and /etc/nsswitch.conf (hosts from files first, as the
    stack's images), on every node."""
    host = docker.from_env()
    files = {
        "Dockerfile": "\n".join(
            (f"FROM {ensure_agent_image(host)}", "COPY nsswitch.conf /etc/", "ENTRYPOINT []\n")
        ),
        "nsswitch.conf": "hosts: files dns\n",
    }
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    try:
        host.images.build(fileobj=context, custom_context=True, tag=SENDER_IMAGE, rm=True)
    finally:
        host.close()
    for node in swarm.nodes:
        node.load_images([SENDER_IMAGE])
    return SENDER_IMAGE


def _until(check: object, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(check) or not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout:.0f} s")
        time.sleep(0.5)


def _sending_statsd_to_the_agents(manager: docker.DockerClient, wharfd: Wharfd) -> SwarmRuntime:
    installation = Settings(wharf_data_dir=wharfd.data_dir).installation_id
    return SwarmRuntime(manager, installation=installation, statsd_port=NODE_STATSD_PORT)


def _no_live_task(client: docker.DockerClient, app: str) -> bool:
    return not live_tasks_of(client, app)


@pytest.fixture
def agents(swarm: SwarmTestCluster, wharfd: Wharfd, tmp_path: Path) -> Iterator[BridgeRedis]:
    """The node agents of every node of the test swarm, shipping into a Redis on the swarm's bridge."""
    with running_node_agents(swarm, partial(wharfd.ok, swarm.manager), tmp_path / "engines") as running:
        yield running.redis


def test_a_worker_dynos_output_memory_and_statsd_reach_the_control_plane_through_its_node_agent(
    swarm: SwarmTestCluster, wharfd: Wharfd, agents: BridgeRedis
) -> None:
    manager = swarm.manager.client()
    runtime = _sending_statsd_to_the_agents(manager, wharfd)
    apps = Apps(runtime)
    worker = swarm.ready_worker()
    try:
        service = manager.api.inspect_service(AGENT_SERVICE)
        assert "Global" in service["Spec"]["Mode"], "one agent task per node"
        app = apps.new()
        placement = {"wharf.placement.node": f"node.id=={swarm.node_id(worker)}"}
        dyno = runtime.start_dyno(make_spec(app, PRINTS_AND_STAYS, labels=placement))
        redis_client = agents.client()
        store = MetricsStore(redis_client)

        def app_lines() -> list[str]:
            return [line.line for line in recent_lines(redis_client, app, source="app")]

        _until(lambda: "hello from a worker node" in app_lines(), "no line of the worker's dyno")
        _until(
            lambda: any(point.memory_rss_mb for point in store.minute_points(app)),
            "no memory sample of the worker's dyno",
        )

        assert app_lines().count("hello from a worker node") == 1, "shipped by its own node's agent only"
        assert runtime.get_dyno(dyno.id).address is not None
        assert runtime.get_dyno(dyno.id).address[0] == worker.address  # type: ignore[index]

        sender_app = apps.new()
        sender = make_spec(sender_app, ("python3", "-c", SENDS_STATSD), image=statsd_sender_image(swarm))
        runtime.start_dyno(dataclasses.replace(sender, labels=placement))

        def signups() -> float:
            return sum(point.custom.get("signups", 0.0) for point in store.minute_points(sender_app))

        _until(lambda: signups() >= 3, "no statsd counter of the worker's dyno")
        customs = [point.custom for point in store.minute_points(sender_app)]
        assert all(set(custom) <= {"signups", "other-app.signups"} for custom in customs), customs
        assert not any(point.custom for point in store.minute_points(app)), "the other app has none"
        assert not any(point.custom for point in store.minute_points("other-app"))
        redis_client.close()
    finally:
        apps.cleanup()
        # A removed service's tasks hold their nodes' reservations until they have stopped.
        for app_name in apps.names:
            wait_for(partial(_no_live_task, manager, app_name), 60, f"every task of {app_name} gone")
        manager.close()


def test_an_attached_one_offs_statsd_reaches_its_apps_series_through_the_managers_agent(
    swarm: SwarmTestCluster, wharfd: Wharfd, agents: BridgeRedis
) -> None:
    manager = swarm.manager.client()
    runtime = _sending_statsd_to_the_agents(manager, wharfd)
    apps = Apps(runtime)
    try:
        app = apps.new()
        job = make_spec(
            app, ("python3", "-c", JOB_SENDS_STATSD), image=statsd_sender_image(swarm), process_type="run"
        )
        attached = runtime.start_attached(job, tty=False)
        try:
            output = asyncio.run(stdout_after_end_of_input(attached)).decode(errors="replace")
            assert attached.wait() == 0, output
        finally:
            attached.remove()
        assert "sent to statsd.wharf.internal" in output, output
        redis_client = agents.client()
        store = MetricsStore(redis_client)

        def jobs_done() -> float:
            return sum(point.custom.get("jobs.done", 0.0) for point in store.minute_points(app))

        _until(lambda: jobs_done() >= 20, "no statsd counter of the attached one-off")
        assert all(set(point.custom) <= {"jobs.done"} for point in store.minute_points(app))
        redis_client.close()
    finally:
        apps.cleanup()
        manager.close()


# Waits for the end of its input (so that it is seen running first), counts its work, exits 7.
JOB_ON_A_WORKER = (
    "import sys; print(sys.stdin.read().strip(), flush=True)\n" + JOB_SENDS_STATSD + "\nsys.exit(7)\n"
)


def test_an_attached_one_off_placed_off_the_manager_runs_on_its_node_through_that_nodes_agent(
    swarm: SwarmTestCluster, wharfd: Wharfd, agents: BridgeRedis
) -> None:
    manager = swarm.manager.client()
    installation = Settings(wharf_data_dir=wharfd.data_dir).installation_id
    runtime = SwarmRuntime(
        manager, installation=installation, statsd_port=NODE_STATSD_PORT, relayed=RemoteOneOffs(agents.url)
    )
    apps = Apps(runtime)
    worker = swarm.ready_worker()
    worker_engine = worker.client()
    try:
        app = apps.new()
        on_the_worker = {"wharf.placement.node": f"node.id=={swarm.node_id(worker)}"}
        job = make_spec(
            app,
            ("python3", "-c", JOB_ON_A_WORKER),
            image=statsd_sender_image(swarm),
            process_type="run",
            number=4821,
            labels=on_the_worker,
        )
        channel = requests_channel(swarm.node_id(worker))
        listening = agents.client()
        try:
            _until(lambda: listening.pubsub_numsub(channel)[0][1] >= 1, "the worker's agent never listened")
        except AssertionError:
            print(
                b"".join(manager.api.service_logs(AGENT_SERVICE, stdout=True, stderr=True)).decode(
                    errors="replace"
                )[-4000:]
            )
            raise
        finally:
            listening.close()
        attached = runtime.start_attached(job, tty=False)
        try:
            container = worker_engine.containers.get(attached.id)
            assert f"wharf-app-{app}" in container.attrs["NetworkSettings"]["Networks"]
            assert container.attrs["HostConfig"]["CapDrop"] == ["ALL"]
            with pytest.raises(docker.errors.NotFound):
                manager.containers.get(attached.id)
            listed = runtime.list_dynos(app)
            assert [(dyno.dyno, dyno.node) for dyno in listed] == [("run.4821", swarm.node_id(worker))]
            with pytest.raises(NetworkInUse):
                runtime.remove_network(app)

            async def talk() -> bytes:
                await attached.open()
                try:
                    await attached.write(b"typed on the client\n")
                    await attached.close_stdin()
                    output = bytearray()
                    while chunk := await attached.read():
                        output += chunk[1]
                    return bytes(output)
                finally:
                    await attached.close()

            output = asyncio.run(talk()).decode(errors="replace")
            assert attached.wait() == 7, output
        finally:
            attached.remove()
        assert "typed on the client" in output and "sent to statsd.wharf.internal" in output, output
        redis_client = agents.client()
        store = MetricsStore(redis_client)
        _until(
            lambda: sum(point.custom.get("jobs.done", 0.0) for point in store.minute_points(app)) >= 20,
            "no statsd counter of the one-off, from the worker's agent",
        )
        redis_client.close()
        _until(
            lambda: not worker_engine.api.containers(all=True, filters={"id": attached.id}),
            "its container gone",
        )
        assert runtime.list_dynos(app) == []
    finally:
        worker_engine.close()
        apps.cleanup()
        manager.close()


def _ready_nodes(manager: docker.DockerClient) -> list[PlacementNode]:
    return [node for node in map(swarm_placement_node, manager.api.nodes()) if node.takes_dynos]


def _listened(client: Any, channel: str) -> bool:
    return bool(client.pubsub_numsub(channel)[0][1] >= 1)


def _hold_all_but(manager: docker.DockerClient, node: PlacementNode, left: int, image: str, name: str) -> Any:
    """A service that reserves all of NODE's free memory but LEFT bytes (a job of another stack)."""
    taken = reserved_per_node(manager.api.tasks()).get(node.id)
    free = node.memory_bytes - (taken.memory_bytes if taken else 0)
    service = manager.services.create(
        image,
        command=["sleep", "3600"],
        name=name,
        constraints=[f"node.id=={node.id}"],
        resources=docker.types.Resources(mem_reservation=free - left),
    )
    _until(
        lambda: any(task["Status"]["State"] == "running" for task in service.tasks()),
        f"the memory of {node.label} held",
    )
    return service


def test_an_attached_one_off_goes_to_a_node_with_its_memory_free_and_is_refused_where_none_has_it(
    swarm: SwarmTestCluster, wharfd: Wharfd, agents: BridgeRedis
) -> None:
    """Swarm counts its tasks' reservations, not the one-offs: Wharf places a one-off where both
    leave its size's memory, and says what is free where when no node has it."""
    manager = swarm.manager.client()
    installation = Settings(wharf_data_dir=wharfd.data_dir).installation_id
    runtime = SwarmRuntime(
        manager, installation=installation, statsd_port=NODE_STATSD_PORT, relayed=RemoteOneOffs(agents.url)
    )
    apps = Apps(runtime)
    holds: list[Any] = []
    manager_id = swarm.node_id(swarm.manager)
    try:
        app = apps.new()
        nodes = _ready_nodes(manager)
        workers = [node for node in nodes if node.id != manager_id]
        assert workers and any(node.id == manager_id for node in nodes)
        listening = agents.client()
        for worker in workers:
            channel = requests_channel(worker.id)
            _until(partial(_listened, listening, channel), f"no agent on {worker.label}")
        listening.close()
        [on_manager] = [node for node in nodes if node.id == manager_id]
        holds.append(_hold_all_but(manager, on_manager, 256 * MIB, swarm.image, f"hold-{app}-manager"))

        attached = runtime.start_attached(
            make_spec(app, "echo placed", process_type="run", number=1), tty=False
        )
        try:
            [listed] = runtime.list_dynos(app)
            assert listed.node in {worker.id for worker in workers}
            assert asyncio.run(stdout_after_end_of_input(attached)) == b"placed\n"
            assert attached.wait() == 0
        finally:
            attached.remove()

        for number, worker in enumerate(workers):
            holds.append(_hold_all_but(manager, worker, 300 * MIB, swarm.image, f"hold-{app}-{number}"))
        with pytest.raises(NoNodeFits) as refused:
            runtime.start_attached(make_spec(app, "echo never", process_type="run", number=2), tty=False)
        message = str(refused.value)
        assert "run.2 cannot start: no node has the 512 MB it needs free" in message, message
        assert all(node.label in message for node in nodes) and "wharfd nodes:add" in message, message
        assert runtime.list_dynos(app) == []
    finally:
        held = {service.id for service in holds}
        for service in holds:
            service.remove()
        _until(
            lambda: not [t for t in manager.api.tasks() if t.get("ServiceID") in held and is_live(t)],
            "the held memory free again",
        )
        apps.cleanup()
        manager.close()


def test_a_build_compiles_on_the_builder_node_through_its_agent_and_keeps_its_cache_there(
    swarm: SwarmTestCluster, wharfd: Wharfd, agents: BridgeRedis, tmp_path: Path
) -> None:
    """A node labelled wharf.role=builder takes the compile: its agent runs the builder on its engine,
    with the app's cache in a volume there, and the built app comes back to the manager."""
    manager = swarm.manager.client()
    builder = swarm.ready_worker()
    builder_id = swarm.node_id(builder)
    node = manager.nodes.get(builder_id)
    spec = node.attrs["Spec"]
    node.update({**spec, "Labels": {**(spec.get("Labels") or {}), "wharf.role": "builder"}})
    app = f"built{secrets.token_hex(3)}"
    listening = agents.client()
    try:
        _until(partial(_listened, listening, builds_channel(builder_id)), "no agent listens for builds")
        choice = choose_builder_node(manager, listening, 64 * MIB)
        assert choice.node is not None and choice.node.id == builder_id, choice
        key = secrets.token_hex(8)
        settings = Settings(wharf_data_dir=wharfd.data_dir)
        compiler = RelayedCompiler(
            installation=settings.installation_id,
            app=app,
            cache_key=key,
            node=choice.node,
            redis_url=agents.url,
            image=swarm.image,
        )
        outputs = []
        for attempt in (1, 2):
            lines: list[str] = []
            result = compiler(scripted_compile(tmp_path, attempt), on_output=lines.append)
            outputs.append("\n".join(lines))
            assert (result.app_dir / "compiled").read_text() == "compiled\n"
            assert result.process_types == {"web": "./serve --port $PORT"}
            assert result.buildpacks == ["Scripted"]
        assert f"-----> Building on node {choice.node.name}" in outputs[0]
        assert "greeting: hello from the manager" in outputs[0]
        assert "builds this cache saw before: 0" in outputs[0]
        assert "builds this cache saw before: 1" in outputs[1], outputs[1]
        # A later app of the same name (destroyed, then created again) has a cache of its own.
        successor = dataclasses.replace(compiler, cache_key=secrets.token_hex(8))
        again: list[str] = []
        successor(scripted_compile(tmp_path, 3), on_output=again.append)
        assert "builds this cache saw before: 0" in "\n".join(again), again
        on_builder = builder.client()
        assert [v.name for v in on_builder.volumes.list(filters={"name": cache_volume(app, key)})] == [
            cache_volume(app, key)
        ]
        assert manager.volumes.list(filters={"name": cache_volume(app, key)}) == []
        # The app is destroyed: both apps' caches of the name leave the builder node.
        forget_app_leftovers(client=listening, settings=settings, app_name=app)
        _until(
            lambda: not on_builder.volumes.list(filters={"label": f"wharf.app={app}"}),
            "the destroyed app's caches stayed on the builder node",
            timeout=20,
        )
        on_builder.close()
    finally:
        listening.close()
        spec = manager.nodes.get(builder_id).attrs["Spec"]
        labels = {k: v for k, v in (spec.get("Labels") or {}).items() if k != "wharf.role"}
        manager.nodes.get(builder_id).update({**spec, "Labels": labels})
        manager.close()
