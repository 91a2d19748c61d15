"""Runs dynos as hardened containers on the local Docker Engine.

Hardening follows the CIS Docker Benchmark: a non-root user, no-new-privileges, every capability
dropped, pids/memory/CPU limits, one bridge network per app (Docker's isolation rules drop traffic
between bridges), no restart policy (the reconciler restarts with backoff) and never the Docker
socket. The root filesystem is writable and ephemeral, as a Heroku dyno's is; its size is bounded
with `--storage-opt size` where the storage driver supports it (overlay2 on xfs with pquota,
btrfs, zfs), and memory-backed `/tmp` counts against the dyno's memory limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.types import LogConfig, Mount

from wharf.platform.docker_times import parse_docker_time
from wharf.platform.runtime.app_networks import AppNetworks
from wharf.platform.runtime.base import (
    DEFAULT_STOP_TIMEOUT,
    DEFAULT_USER,
    LABEL_APP,
    LABEL_ATTACHED,
    LABEL_COMMAND,
    LABEL_DYNO,
    LABEL_PORT,
    LABEL_PROCESS_TYPE,
    LABEL_RELEASE,
    LABEL_SIZE,
    Dyno,
    DynoEvent,
    DynoNotFound,
    DynoSpec,
    DynoState,
    EventAction,
    ImageNotFound,
    NetworkInUse,
    NetworkNotFound,
    OutputCallback,
    event_from_labels,
    label_filters,
    network_name,
    scope_labels,
    size_named,
)
from wharf.platform.runtime.docker_attach import DockerAttachedDyno
from wharf.platform.runtime.docker_listing import InspectedDynos
from wharf.platform.runtime.image_users import ImageUsers

SCRATCH_MOUNT_OPTIONS = "rw,nosuid,nodev,mode=1777"
LOG_CONFIG = LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"})
# An attached one-off's output goes to its client only, as on Heroku (not to the app's logs); logging
# it as well would cost Docker a JSON record per line, 20 times the time of the output itself.
ATTACHED_LOG_CONFIG = LogConfig(type="none")
HOSTNAME_MAX = 63
# Storage drivers whose writable layer takes a size limit; overlay2 only on xfs mounted with pquota.
SIZED_DRIVERS = frozenset({"btrfs", "zfs", "devicemapper"})

log = logging.getLogger(__name__)


def disk_limit_supported(info: Mapping[str, Any]) -> bool:
    """Whether `docker info` describes a storage driver that can bound a container's writable layer.

    overlay2 needs its backing filesystem to be xfs with project quotas, which `docker info` does not
    show; the first container created finds out (see DockerRuntime._storage_options).
    """
    driver = str(info.get("Driver", ""))
    if driver in SIZED_DRIVERS:
        return True
    status = {str(key): str(value) for key, value in info.get("DriverStatus") or []}
    return driver == "overlay2" and status.get("Backing Filesystem") == "xfs"


SWARM_SERVICE_LABEL = "com.docker.swarm.service.id"


class DockerRuntime:
    """The Runtime for one Docker host, through the Docker SDK for Python."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        installation: str | None = None,
        statsd_port: int | None = None,
        statsd_hostname: str | None = None,
    ) -> None:
        self._client = client or docker.from_env()
        self._image_users = ImageUsers(self._client)
        # Dynos send statsd packets to their network's gateway (the host) on this port; with a
        # hostname, to that name, which their hosts file maps to the host's `host-gateway` address.
        self._statsd_port = statsd_port
        self._statsd_hostname = statsd_hostname
        # The labels every dyno of this runtime carries and every query filters on.
        self._scope = scope_labels(installation)
        self._host_nano_cpus: int | None = None
        self._disk_limits: bool | None = None
        self._networks = AppNetworks(
            self._client,
            driver="bridge",
            internal=False,
            options={"com.docker.network.bridge.enable_icc": "true"},
        )
        self._inspected = InspectedDynos(self._inspect_dyno)

    # networks

    def ensure_network(self, app: str) -> str:
        return self._networks.ensure(app)

    def remove_network(self, app: str) -> None:
        network = self._find_network(network_name(app))
        if network is None:
            return
        network.reload()
        if network.attrs.get("Containers"):
            raise NetworkInUse(f"{network.name} still has containers attached")
        try:
            network.remove()
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as error:
            raise NetworkInUse(f"{network.name}: {error.explanation}") from error

    def _find_network(self, name: str) -> Any:
        return self._networks.find(name)

    # dynos

    def start_dyno(self, spec: DynoSpec) -> Dyno:
        container = self._create(spec)
        try:
            container.start()
            container.reload()
        except docker.errors.APIError as error:
            container.remove(force=True, v=True)
            if isinstance(error, docker.errors.NotFound) and "network" in str(error.explanation):
                raise NetworkNotFound(spec.network_name) from error
            raise
        return dyno_from_container(container)

    def get_dyno(self, dyno_id: str) -> Dyno:
        return dyno_from_container(self._container(dyno_id))

    def list_dynos(
        self,
        app: str | None = None,
        *,
        process_type: str | None = None,
        release: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Dyno]:
        wanted = {**label_filters(app, process_type, release, labels), **self._scope}
        entries = self._client.api.containers(
            all=True, filters={"label": [f"{key}={value}" for key, value in wanted.items()]}
        )
        # A Swarm task's container carries its service's labels, but the dyno is the service's.
        entries = [entry for entry in entries if SWARM_SERVICE_LABEL not in (entry.get("Labels") or {})]
        every_dyno = app is None and process_type is None and release is None and not labels
        dynos = self._inspected.dynos(entries, complete=every_dyno)
        return sorted(dynos, key=lambda d: (d.app, d.process_type, d.number, d.release, d.id))

    def _inspect_dyno(self, container_id: str) -> Dyno | None:
        try:
            return dyno_from_container(self._client.containers.get(container_id))
        except docker.errors.NotFound:
            return None

    def stop_dyno(self, dyno_id: str, timeout: float = DEFAULT_STOP_TIMEOUT) -> Dyno:
        container = self._container(dyno_id)
        try:
            container.stop(timeout=math.ceil(timeout))
            container.reload()
        except docker.errors.NotFound as error:
            raise DynoNotFound(dyno_id) from error
        return dyno_from_container(container)

    def remove_dyno(self, dyno_id: str) -> None:
        self._inspected.forget(dyno_id)
        try:
            self._container(dyno_id).remove(force=True, v=True)
        except (DynoNotFound, docker.errors.NotFound):
            return
        except docker.errors.APIError as error:
            if error.status_code != 409:  # removal already in progress
                raise

    def wait(self, dyno_id: str, timeout: float | None = None) -> int:
        container = self._container(dyno_id)
        try:
            result = container.wait(timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as error:
            raise TimeoutError(f"dyno {dyno_id} still running after {timeout} s") from error
        return int(result["StatusCode"])

    def run_oneoff(
        self, spec: DynoSpec, *, on_output: OutputCallback | None = None, timeout: float | None = None
    ) -> int:
        container = self._create(spec)
        deadline = None
        if timeout is not None:
            deadline = threading.Timer(timeout, self._stop_quietly, args=(container.id,))
            deadline.daemon = True
        try:
            container.start()
            if deadline is not None:
                deadline.start()
            if on_output is not None:
                for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                    on_output(chunk)
            return int(container.wait()["StatusCode"])
        finally:
            if deadline is not None:
                deadline.cancel()
            container.remove(force=True, v=True)

    def events(self, *, since: float | None = None, timeout: float | None = None) -> Iterator[DynoEvent]:
        now = time.time()
        until = now + timeout if timeout is not None else None
        return self._follow_events(now if since is None else since, until)

    def _follow_events(self, since: float, until: float | None) -> Iterator[DynoEvent]:
        stream = self._client.events(
            since=_api_time(since),
            until=_api_time(until),
            filters={
                "type": "container",
                "label": [f"{key}={value}" for key, value in self._scope.items()],
                "event": list(EventAction),
            },
            decode=True,
        )
        try:
            for raw in stream:
                yield _event_from_raw(raw)
        finally:
            stream.close()

    # helpers

    def _container(self, dyno_id: str) -> Container:
        try:
            container: Container = self._client.containers.get(dyno_id)
        except docker.errors.NotFound as error:
            raise DynoNotFound(dyno_id) from error
        if any(container.labels.get(key) != value for key, value in self._scope.items()):
            raise DynoNotFound(f"{dyno_id} is not a dyno of this Wharf")
        return container

    def _stop_quietly(self, dyno_id: str) -> None:
        try:
            self._client.containers.get(dyno_id).stop(timeout=10)
        except docker.errors.APIError:
            return

    def start_attached(self, spec: DynoSpec, *, tty: bool = True) -> DockerAttachedDyno:
        attached_spec = dataclasses.replace(spec, labels={**spec.labels, LABEL_ATTACHED: "1"})
        container = self._create(attached_spec, interactive=True, tty=tty)
        try:
            attached = DockerAttachedDyno(self._client, container, tty=tty)
            container.start()
        except docker.errors.APIError:
            container.remove(force=True, v=True)
            raise
        return attached

    @property
    def disk_limits(self) -> bool:
        """Whether dynos' writable filesystems are size-bounded on this host."""
        if self._disk_limits is None:
            self._disk_limits = disk_limit_supported(self._client.info())
            if not self._disk_limits:
                log.warning(
                    "dyno disk sizes are not enforced: Docker's storage driver cannot bound a container's "
                    "writable layer here (overlay2 needs /var/lib/docker on xfs mounted with pquota)"
                )
        return self._disk_limits

    def remove_attached_dynos(self) -> list[str]:
        removed = []
        for container in self._client.containers.list(
            all=True, ignore_removed=True, filters={"label": [*self._scope_filters(), f"{LABEL_ATTACHED}=1"]}
        ):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
                removed.append(container.name or container.id or "")
        return removed

    def _scope_filters(self) -> list[str]:
        return [f"{key}={value}" for key, value in self._scope.items()]

    def _create(self, spec: DynoSpec, *, interactive: bool = False, tty: bool = True) -> Container:
        """Create the container without starting it, and without ever pulling its image."""
        options = self._container_options(spec, interactive=interactive, tty=tty)
        if self.disk_limits:
            try:
                disk = {"size": str(size_named(spec.size).disk_bytes)}
                return self._create_with(options | {"storage_opt": disk})
            except docker.errors.APIError as error:
                if "storage-opt" not in str(error.explanation) and "quota" not in str(error.explanation):
                    raise
                log.warning("dyno disk sizes are not enforced: %s", error.explanation)
                self._disk_limits = False
        return self._create_with(options)

    def _create_with(self, options: dict[str, Any]) -> Container:
        try:
            container: Container = self._client.containers.create(**options)
        except docker.errors.ImageNotFound as error:
            raise ImageNotFound(options["image"]) from error
        return container

    def _container_options(self, spec: DynoSpec, *, interactive: bool, tty: bool = True) -> dict[str, Any]:
        size = size_named(spec.size)
        return {
            "image": spec.image,
            "command": spec.argv,
            "name": f"{spec.name}.v{spec.release}.{secrets.token_hex(3)}",
            "hostname": f"{spec.process_type}-{spec.number}"[-HOSTNAME_MAX:].lstrip("-_"),
            "environment": {**spec.environment(), **self._statsd_environment(spec.network_name)},
            "extra_hosts": self._statsd_hosts(),
            "labels": {**spec.all_labels(), **self._scope},
            "user": self._user_for(spec),
            "network": spec.network_name,
            "init": True,
            "restart_policy": {"Name": "no"},
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            "pids_limit": size.pids_limit,
            "mem_limit": size.memory_bytes,
            "memswap_limit": size.memory_bytes,
            "cpu_shares": size.cpu_shares,
            "nano_cpus": min(size.nano_cpus, self._host_cpu_limit()),
            "read_only": spec.read_only_root,
            "tmpfs": {path: SCRATCH_MOUNT_OPTIONS for path in spec.scratch_paths},
            "mounts": [Mount(target=path, source=None, type="volume") for path in spec.writable_paths],
            "log_config": ATTACHED_LOG_CONFIG if interactive else LOG_CONFIG,
            "tty": interactive and tty,
            # With it the SDK sets StdinOnce: without a TTY, the end of the client's input then
            # closes the process's stdin and output keeps flowing (as `docker run -i` does).
            "stdin_open": interactive,
        }

    def _user_for(self, spec: DynoSpec) -> str:
        try:
            return self._image_users.dyno_user(spec.image, spec.user, DEFAULT_USER)
        except docker.errors.ImageNotFound as error:
            raise ImageNotFound(spec.image) from error

    def _statsd_environment(self, network: str) -> dict[str, str]:
        """STATSD_HOST and STATSD_PORT: the host's address on the dyno's own app network (or the
        hostname given for it)."""
        if not self._statsd_port:
            return {}
        if self._statsd_hostname:
            return {"STATSD_HOST": self._statsd_hostname, "STATSD_PORT": str(self._statsd_port)}
        found = self._find_network(network)
        configs = ((found.attrs.get("IPAM") or {}).get("Config") or []) if found is not None else []
        gateways = [str(c["Gateway"]) for c in configs if c.get("Gateway") and ":" not in str(c["Gateway"])]
        if not gateways:
            return {}
        return {"STATSD_HOST": gateways[0], "STATSD_PORT": str(self._statsd_port)}

    def _statsd_hosts(self) -> dict[str, str] | None:
        if self._statsd_port and self._statsd_hostname:
            return {self._statsd_hostname: "host-gateway"}
        return None

    def _host_cpu_limit(self) -> int:
        """Docker refuses a CPU limit above the host's CPU count, so large sizes are capped to it."""
        if self._host_nano_cpus is None:
            self._host_nano_cpus = int(self._client.info()["NCPU"]) * 1_000_000_000
        return self._host_nano_cpus


def docker_runtime(*, installation: str | None = None) -> DockerRuntime:
    """The runtime on the local Docker Engine, seeing only this installation's dynos."""
    from wharf.platform.settings import get_settings

    return DockerRuntime(installation=installation, statsd_port=get_settings().wharf_statsd_port or None)


def dyno_from_container(container: Container) -> Dyno:
    """Read a dyno back from a container's labels and state, so no database has to remember it."""
    attrs: dict[str, Any] = container.attrs
    labels: dict[str, str] = attrs["Config"]["Labels"] or {}
    state: dict[str, Any] = attrs["State"]
    finished = parse_docker_time(state.get("FinishedAt"))
    running = state["Status"] in ("created", "restarting", "running", "paused")
    exit_code = None if running else int(state["ExitCode"])
    return Dyno(
        id=container.id or "",
        app=labels[LABEL_APP],
        process_type=labels[LABEL_PROCESS_TYPE],
        number=int(labels[LABEL_DYNO]),
        release=int(labels[LABEL_RELEASE]),
        state=_dyno_state(state["Status"], exit_code),
        command=labels.get(LABEL_COMMAND, ""),
        size=labels.get(LABEL_SIZE, ""),
        started_at=parse_docker_time(state.get("StartedAt")),
        finished_at=None if running else finished,
        exit_code=exit_code,
        address=_address(attrs, int(labels.get(LABEL_PORT, "0"))),
        labels=labels,
        oom_killed=bool(state.get("OOMKilled")),
    )


def _dyno_state(status: str, exit_code: int | None) -> DynoState:
    if status in ("created", "restarting"):
        return DynoState.STARTING
    if exit_code is None:
        return DynoState.UP
    return DynoState.after_exit(exit_code)


def _address(attrs: Mapping[str, Any], port: int) -> tuple[str, int] | None:
    networks: Mapping[str, Any] = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    for settings in networks.values():
        if settings.get("IPAddress"):
            return (str(settings["IPAddress"]), port)
    return None


def _api_time(value: float | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def _event_from_raw(raw: Mapping[str, Any]) -> DynoEvent:
    attributes: dict[str, str] = raw["Actor"]["Attributes"]
    exit_code = attributes.get("exitCode")
    return event_from_labels(
        EventAction(raw["Action"]),
        dyno_id=raw["Actor"]["ID"],
        labels=attributes,
        time=int(raw["timeNano"]) / 1e9,
        exit_code=None if exit_code is None else int(exit_code),
    )
