"""Runs dynos as Docker Swarm services, through a manager's engine (WHARF_RUNTIME=swarm).

One dyno is one replicated service of one replica with restart condition "none", so Wharf's own
scheduler keeps its crash backoff and routes a dyno only once it is healthy; the dyno's id is the
service's id. Every service and its container carry the DynoSpec's labels, and list_dynos queries
services by label. An app's network is an attachable overlay network. Each dyno publishes its port
in host mode on a port the engine picks: its address is its node's address and that port (Swarm's
ingress routing mesh is not used). Labels `wharf.placement.<name>` on a spec are placement
constraints (`node.labels.wharf.role==web`).

A manager sees every task but not other nodes' containers, so state, exits and events come from the
tasks (events are polled). Where this runtime can reach the engine of a task's node (always its own
node), it stops a dyno with the caller's timeout and reads exact times from the container; on other
nodes a stop is a scale to zero, which Swarm carries out with the service's 30 s grace period.
A dyno whose node is down reads as crashed (swarm_tasks.py), so the scheduler replaces it on another
node and removes its service: a node that comes back then removes the task's container itself, and
the dyno never returns as a duplicate.

An attached one-off (`wharf run` without --detach) is no service, since Swarm cannot attach a client
to a task: it is a container on the app's overlay, on the manager's engine when the manager takes
dynos and fits the one-off's placement (swarm_attached.py), else on the node that runs the fewest
dynos, started and relayed there by that node's agent (swarm_remote_attach.py). This runtime lists,
stops and removes both kinds with the services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import docker
import docker.errors

from wharf.platform.registry.api import RegistryError
from wharf.platform.registry.release_images import ReleaseImages
from wharf.platform.runtime.app_networks import OVERLAY_PREFIX, AppNetworks
from wharf.platform.runtime.base import (
    DEFAULT_STOP_TIMEOUT,
    DEFAULT_USER,
    LABEL_APP,
    AttachedDyno,
    Dyno,
    DynoEvent,
    DynoNotFound,
    DynoSpec,
    ImageNotFound,
    NetworkInUse,
    NetworkNotFound,
    OutputCallback,
    WharfRuntimeError,
    label_filters,
    scope_labels,
    size_named,
)
from wharf.platform.runtime.image_users import ImageUsers
from wharf.platform.runtime.node_room import NodeLoad, oneoff_memory_per_node, reserved_per_node
from wharf.platform.runtime.placement import (
    NoPlacement,
    PlacementNode,
    attached_oneoff_node,
    placement_constraints,
    swarm_placement_node,
)
from wharf.platform.runtime.swarm_attached import AttachedOneOffs
from wharf.platform.runtime.swarm_logs import ServiceLogRelay
from wharf.platform.runtime.swarm_remote_attach import RemoteOneOffs
from wharf.platform.runtime.swarm_specs import service_options
from wharf.platform.runtime.swarm_tasks import (
    Task,
    container_id,
    dyno_from_task,
    exit_code,
    is_terminal,
    latest_task,
    node_lost_at,
    service_labels,
    task_error,
    task_events,
    task_state,
)

POLL_SECONDS = 0.2
START_TIMEOUT = 120.0
# How long a removed network may still be held by a removed service's tasks.
NETWORK_RELEASE_SECONDS = 30.0

# Swarm's reason for a task it cannot place (resources, constraints).
NO_NODE = "no suitable node"

NodeEngines = Callable[[str], docker.DockerClient | None]
Node = Mapping[str, Any]


class NoNodeFits(WharfRuntimeError):
    """No node has the free resources, or the labels, that the dyno's service asks for."""


class SwarmRuntime:
    """The Runtime for a Docker Swarm, through one manager's engine."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        installation: str | None = None,
        node_engines: NodeEngines | None = None,
        images: ReleaseImages | None = None,
        statsd_port: int | None = None,
        relayed: RemoteOneOffs | None = None,
    ) -> None:
        self._client = client or docker.from_env()
        # Dynos send statsd packets to their node, where its agent listens on this port.
        self._statsd_port = statsd_port
        # With a registry, services name its copy of the release image, so any node can pull it.
        self._images = images
        self._image_users = ImageUsers(self._client)
        self._scope = scope_labels(installation)
        self._attached = AttachedOneOffs(self._client, installation=installation, statsd_port=statsd_port)
        # Attached one-offs on other nodes, through their agents; None: always on the manager's engine.
        self._relayed = relayed
        self._node_engines = node_engines
        self._own_node: str | None = None
        self._node_addresses: dict[str, str] = {}
        self._max_nano_cpus: int | None = None
        self._networks = AppNetworks(
            self._client,
            other_driver_prefix=OVERLAY_PREFIX,
            driver="overlay",
            attachable=True,
            scope="swarm",
        )

    # networks

    def ensure_network(self, app: str) -> str:
        return self._networks.ensure(app)

    def remove_network(self, app: str) -> None:
        network = self._find_network(self._networks.name_for(app))
        if network is None:
            return
        attached = self._attached.dynos({LABEL_APP: app, **self._scope})
        if self._relayed is not None:
            attached += self._relayed.dynos({LABEL_APP: app, **self._scope})
        if any(dyno.running for dyno in attached):
            raise NetworkInUse(f"{network.name} still has an attached one-off on it")
        network_id = str(network.id)
        if any(network_id in _service_networks(s) for s in self._client.api.services()):
            raise NetworkInUse(f"{network.name} still has services attached")
        deadline = time.monotonic() + NETWORK_RELEASE_SECONDS
        while True:
            try:
                network.remove()
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as error:
                # A removed service's tasks still hold the network until their containers are gone.
                if time.monotonic() > deadline:
                    raise NetworkInUse(f"{network.name}: {error.explanation}") from error
                time.sleep(POLL_SECONDS)

    def _find_network(self, name: str) -> Any:
        return self._networks.find(name)

    # dynos

    def start_dyno(self, spec: DynoSpec) -> Dyno:
        service_id = self._create(spec)
        try:
            task = self._await_task(service_id, lambda t: is_terminal(t) or task_state(t) == "running")
        except NoNodeFits:
            self._remove_service(service_id)
            raise
        except BaseException:
            self._remove_service(service_id)
            raise
        if task_state(task) == "rejected" and "No such image" in task_error(task):
            self._remove_service(service_id)
            raise ImageNotFound(spec.image)
        return self.get_dyno(service_id)

    def get_dyno(self, dyno_id: str) -> Dyno:
        try:
            service = self._service(dyno_id)
        except DynoNotFound:
            return self._one_off_get(dyno_id)
        task = latest_task(self._tasks(dyno_id))
        node_id = _node_of(task)
        return self._dyno(service, task, self._inspect_node(node_id) if node_id else None)

    def list_dynos(
        self,
        app: str | None = None,
        *,
        process_type: str | None = None,
        release: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Dyno]:
        wanted = {**label_filters(app, process_type, release, labels), **self._scope}
        services = self._client.api.services(filters={"label": [f"{k}={v}" for k, v in wanted.items()]})
        tasks: dict[str, list[Task]] = {}
        nodes: dict[str, Node] = {}
        if services:
            tasks = self._tasks_labelled(wanted)
            nodes = {str(node["ID"]): node for node in self._client.api.nodes()}
        dynos = []
        for service in services:
            task = latest_task(tasks.get(str(service["ID"]), []))
            dynos.append(self._dyno(service, task, nodes.get(_node_of(task))))
        dynos += self._attached.dynos(wanted)
        if self._relayed is not None:
            dynos += self._relayed.dynos(wanted)
        return sorted(dynos, key=lambda d: (d.app, d.process_type, d.number, d.release, d.id))

    def placement_nodes(self) -> list[PlacementNode]:
        """The swarm's nodes, for the scheduler's rebalance (Dyno.node names one of them)."""
        return [swarm_placement_node(node) for node in self._client.api.nodes()]

    def stop_dyno(self, dyno_id: str, timeout: float = DEFAULT_STOP_TIMEOUT) -> Dyno:
        try:
            self._service(dyno_id)
        except DynoNotFound:
            if self._is_relayed(dyno_id):
                return self._relayed.stop(dyno_id, timeout)  # type: ignore[union-attr]
            return self._attached.stop(dyno_id, timeout)
        task = latest_task(self._tasks(dyno_id))
        if task is not None and not is_terminal(task) and not self._lost(task):
            container = self._container(task)
            if container is not None:
                with contextlib.suppress(docker.errors.NotFound):
                    container.stop(timeout=math.ceil(timeout))
            else:
                self._scale(dyno_id, 0)
            with contextlib.suppress(TimeoutError):
                self._await_task(dyno_id, is_terminal, timeout=timeout + DEFAULT_STOP_TIMEOUT + 10)
        return self.get_dyno(dyno_id)

    def remove_dyno(self, dyno_id: str) -> None:
        try:
            self._service(dyno_id)
        except DynoNotFound:
            if self._is_relayed(dyno_id):
                self._relayed.remove(dyno_id)  # type: ignore[union-attr]
            else:
                self._attached.remove(dyno_id)
            return
        task = latest_task(self._tasks(dyno_id))
        ended = task is None or is_terminal(task) or self._lost(task)
        container = self._container(task) if task is not None and not ended else None
        if container is not None:
            with contextlib.suppress(docker.errors.APIError):
                container.kill()
        self._remove_service(dyno_id)

    def wait(self, dyno_id: str, timeout: float | None = None) -> int:
        try:
            self._service(dyno_id)
        except DynoNotFound:
            if self._is_relayed(dyno_id):
                return self._relayed.wait(dyno_id, timeout)  # type: ignore[union-attr]
            return self._attached.wait(dyno_id, timeout)
        try:
            task = self._await_task(dyno_id, is_terminal, timeout=timeout)
        except TimeoutError as error:
            raise TimeoutError(f"dyno {dyno_id} still running after {timeout} s") from error
        return exit_code(task) or 0

    def run_oneoff(
        self, spec: DynoSpec, *, on_output: OutputCallback | None = None, timeout: float | None = None
    ) -> int:
        service_id = self._create(spec)
        relay = ServiceLogRelay(self._client, service_id, on_output) if on_output is not None else None
        try:
            try:
                task = self._await_task(service_id, is_terminal, timeout=timeout)
            except TimeoutError:
                self.stop_dyno(service_id, timeout=10)
                task = self._await_task(service_id, is_terminal, timeout=DEFAULT_STOP_TIMEOUT + 10)
            if relay is not None:
                relay.finish()
            return exit_code(task) or 0
        finally:
            self._remove_service(service_id)

    def start_attached(self, spec: DynoSpec, *, tty: bool = True) -> AttachedDyno:
        """The one-off runs on the app's overlay network, on the manager's engine when the manager may
        take it (swarm_attached.py), else on another node through its agent (swarm_remote_attach.py)."""
        network = self._app_network(spec).name
        if self._relayed is None:
            return self._attached.start(spec, network, tty=tty)
        own = self._own_node_id()
        try:
            node = attached_oneoff_node(
                self.placement_nodes(),
                placement_constraints(spec.labels),
                own,
                self._node_load,
                size_named(spec.size).memory_bytes,
            )
        except NoPlacement as error:
            raise NoNodeFits(f"{spec.name} cannot start: {error}") from None
        if node.id == own:
            return self._attached.start(spec, network, tty=tty)
        relayed = dataclasses.replace(spec, image=self._pullable_image(spec.image), network=network)
        return self._relayed.start(relayed, node.id, node.label, tty=tty, labels=self._scope)

    def _is_relayed(self, dyno_id: str) -> bool:
        return self._relayed is not None and self._relayed.holds(dyno_id)

    def _one_off_get(self, dyno_id: str) -> Dyno:
        try:
            return self._attached.get(dyno_id)
        except DynoNotFound:
            if self._relayed is None:
                raise
            return self._relayed.get(dyno_id)

    def _node_load(self) -> NodeLoad:
        """The installation's dynos on each node, and the memory taken there: every live task's
        reservation and the installation's attached one-offs."""
        oneoffs = self._attached.dynos(self._scope)
        if self._relayed is not None:
            oneoffs += self._relayed.dynos(self._scope)
        taken = oneoff_memory_per_node(oneoffs, self._own_node_id())
        for node, reserved in reserved_per_node(self._client.api.tasks()).items():
            taken[node] = taken.get(node, 0) + reserved.memory_bytes
        return NodeLoad(dynos=self._dynos_per_node(), memory_taken=taken)

    def _dynos_per_node(self) -> dict[str, int]:
        """How many of this installation's dyno tasks each node runs."""
        counts: dict[str, int] = {}
        for tasks in self._tasks_labelled(self._scope).values():
            for task in tasks:
                if not is_terminal(task):
                    node = _node_of(task)
                    counts[node] = counts.get(node, 0) + 1
        return counts

    def _own_node_id(self) -> str:
        if self._own_node is None:
            self._own_node = str(self._client.info()["Swarm"]["NodeID"])
        return self._own_node

    def remove_attached_dynos(self) -> list[str]:
        return self._attached.remove_all()

    def events(self, *, since: float | None = None, timeout: float | None = None) -> Iterator[DynoEvent]:
        now = time.time()
        until = now + timeout if timeout is not None else None
        return self._poll_events(now if since is None else since, until)

    def _poll_events(self, since: float, until: float | None) -> Iterator[DynoEvent]:
        reported: set[tuple[str, str]] = set()
        labels: dict[str, dict[str, str]] = {}
        while True:
            for service in self._scoped_services():
                labels[str(service["ID"])] = service_labels(service)
            fresh = []
            lost = {str(node["ID"]): node_lost_at(node) for node in self._client.api.nodes()}
            for service_id, tasks in self._tasks_labelled(self._scope).items():
                if service_id not in labels:
                    continue
                for task in tasks:
                    lost_at = lost.get(_node_of(task))
                    for event in task_events(task, labels[service_id], service_id, since, lost_at=lost_at):
                        key = (str(task["ID"]), str(event.action))
                        if key not in reported:
                            reported.add(key)
                            fresh.append(event)
            yield from sorted(fresh, key=lambda e: (e.time, e.action != "start"))
            if until is not None and time.time() >= until:
                return
            time.sleep(POLL_SECONDS if until is None else max(0.0, min(POLL_SECONDS, until - time.time())))

    # helpers

    def _app_network(self, spec: DynoSpec) -> Any:
        name = spec.network or self._networks.name_for(spec.app)
        network = self._find_network(name)
        if network is None:
            raise NetworkNotFound(name)
        return network

    def _create(self, spec: DynoSpec) -> str:
        network = self._app_network(spec)
        try:
            user = self._image_users.dyno_user(spec.image, spec.user, DEFAULT_USER)
        except docker.errors.ImageNotFound as error:
            raise ImageNotFound(spec.image) from error
        spec = dataclasses.replace(spec, image=self._pullable_image(spec.image))
        options = service_options(
            spec,
            user=user,
            labels={**spec.all_labels(), **self._scope},
            network_id=str(network.id),
            max_nano_cpus=self._node_cpu_limit(),
            statsd_port=self._statsd_port,
        )
        return str(self._client.api.create_service(**options)["ID"])

    def _pullable_image(self, image: str) -> str:
        """The name other nodes pull `image` by: its registry copy (pushed first), or `image` itself
        when there is no registry."""
        if self._images is None:
            return image
        try:
            return self._images.reference(image)
        except (RegistryError, docker.errors.APIError) as error:
            raise WharfRuntimeError(f"{image} could not be pushed to the registry: {error}") from error

    def _service(self, dyno_id: str) -> Mapping[str, Any]:
        try:
            service: Mapping[str, Any] = self._client.api.inspect_service(dyno_id)
        except docker.errors.NotFound as error:
            raise DynoNotFound(dyno_id) from error
        found = service_labels(service)
        if any(found.get(key) != value for key, value in self._scope.items()):
            raise DynoNotFound(f"{dyno_id} is not a dyno of this Wharf")
        return service

    def _scoped_services(self) -> list[Mapping[str, Any]]:
        services: list[Mapping[str, Any]] = self._client.api.services(
            filters={"label": [f"{key}={value}" for key, value in self._scope.items()]}
        )
        return services

    def _tasks_labelled(self, labels: Mapping[str, str]) -> dict[str, list[Task]]:
        """The tasks of the services carrying all of `labels`, by service id: Swarm matches a task
        list's label filter on the task's service's labels (a removed service's tasks included), so a
        swarm's other stacks and installations are never read."""
        tasks: dict[str, list[Task]] = {}
        for task in self._client.api.tasks(filters={"label": [f"{k}={v}" for k, v in labels.items()]}):
            tasks.setdefault(str(task.get("ServiceID")), []).append(task)
        return tasks

    def _tasks(self, service_id: str) -> list[Task]:
        tasks: list[Task] = self._client.api.tasks(filters={"service": service_id})
        return tasks

    def _await_task(
        self, service_id: str, done: Callable[[Task], bool], timeout: float | None = START_TIMEOUT
    ) -> Task:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                tasks = self._client.api.tasks(filters={"service": service_id})
            except docker.errors.NotFound as error:
                raise DynoNotFound(service_id) from error
            task = latest_task(tasks)
            if task is not None and done(task):
                return task
            if task is not None and task_state(task) == "pending" and NO_NODE in task_error(task):
                raise NoNodeFits(f"no node can run the dyno of service {service_id}: {task_error(task)}")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"service {service_id}: task still {task_state(task) if task else 'new'}")
            time.sleep(POLL_SECONDS)

    def _dyno(self, service: Mapping[str, Any], task: Task | None, node: Node | None) -> Dyno:
        """The service's dyno; `node` is its task's node as Swarm sees it now (down: the dyno is lost)."""
        node_id = _node_of(task)
        lost_at = node_lost_at(node)
        container = self._container(task) if task is not None and lost_at is None else None
        attrs = container.attrs if container is not None else None
        address = self._node_address(node_id) if node_id else None
        return dyno_from_task(service, task, address, attrs, lost_at=lost_at)

    def node_addresses(self) -> list[str]:
        """Every node's address, where its dynos publish their ports (the route table's hosts)."""
        addresses = {str((node.get("Status") or {}).get("Addr") or "") for node in self._client.api.nodes()}
        return sorted(a for a in addresses if a and a != "0.0.0.0")  # noqa: S104

    def _lost(self, task: Task) -> bool:
        """Whether the task's node is down: its container cannot be reached to stop (Swarm has
        already set the task's desired state to shutdown; the node's engine ends it if it returns)."""
        node_id = _node_of(task)
        return bool(node_id) and node_lost_at(self._inspect_node(node_id)) is not None

    def _inspect_node(self, node_id: str) -> Node | None:
        try:
            node: Node = self._client.api.inspect_node(node_id)
        except docker.errors.NotFound:
            return None
        return node

    def _container(self, task: Task) -> Any:
        """The task's container, where this runtime reaches the engine of the task's node."""
        found = container_id(task)
        engine = self._engine_for(str(task.get("NodeID") or ""))
        if found is None or engine is None:
            return None
        try:
            return engine.containers.get(found)
        except docker.errors.NotFound:
            return None

    def _engine_for(self, node_id: str) -> docker.DockerClient | None:
        if node_id == self._own_node_id():
            return self._client
        return self._node_engines(node_id) if self._node_engines is not None else None

    def _node_address(self, node_id: str) -> str | None:
        if node_id not in self._node_addresses:
            node = self._inspect_node(node_id)
            if node is None:
                return None
            self._node_addresses[node_id] = str((node.get("Status") or {}).get("Addr") or "")
        return self._node_addresses[node_id] or None

    def _scale(self, service_id: str, replicas: int) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._client.services.get(service_id).scale(replicas)

    def _remove_service(self, service_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._client.api.remove_service(service_id)

    def _node_cpu_limit(self) -> int:
        """Swarm refuses no CPU reservation, but no node could hold one above the largest node's CPUs."""
        if self._max_nano_cpus is None:
            nodes = self._client.api.nodes()
            cpus = [
                int(((n.get("Description") or {}).get("Resources") or {}).get("NanoCPUs", 0)) for n in nodes
            ]
            self._max_nano_cpus = max(cpus, default=0) or int(self._client.info()["NCPU"]) * 1_000_000_000
        return self._max_nano_cpus


def _node_of(task: Task | None) -> str:
    return str(task.get("NodeID") or "") if task is not None else ""


def _service_networks(service: Mapping[str, Any]) -> set[str]:
    template = (service.get("Spec") or {}).get("TaskTemplate") or {}
    return {str(n.get("Target")) for n in template.get("Networks") or []}


def swarm_runtime(*, installation: str | None = None) -> SwarmRuntime:
    """The runtime on the Swarm whose manager is the local Docker Engine, its services naming release
    images on the registry WHARF_REGISTRY names (or `wharfd cluster init` started)."""
    from wharf.platform.registry.release_images import release_images_for
    from wharf.platform.settings import get_settings

    settings = get_settings()
    statsd_port = settings.wharf_node_statsd_port or None
    relayed = RemoteOneOffs(settings.resolved_redis_url)
    client = docker.from_env()
    images = (
        release_images_for(client, settings.wharf_registry, settings.wharf_data_dir)
        if settings.wharf_registry
        else None
    )
    return SwarmRuntime(
        client, installation=installation, images=images, statsd_port=statsd_port, relayed=relayed
    )
