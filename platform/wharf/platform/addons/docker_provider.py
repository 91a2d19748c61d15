"""Add-ons as hardened containers on the local Docker Engine, one per add-on, on its app's network only.

Each container runs as the server's own non-root user with every capability dropped, a read-only
root, memory and pid limits, no published port, and restart policy `unless-stopped` so that it comes
back after a Docker or host restart without Wharf. Its data lives in a named volume that only
`deprovision` removes. Kinds fill in the image, environment, health probe and console.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
from cryptography import x509
from docker.models.containers import Container
from docker.types import LogConfig, Mount

from wharf.platform.addons import AddonProviders, installation_id
from wharf.platform.addons.base import (
    LABEL_ADDON,
    LABEL_ADDON_HOME,
    LABEL_ADDON_KIND,
    AddonError,
    AddonHealth,
    AddonProvider,
    AddonSpec,
    AddonState,
    ConsoleResult,
    Progress,
    UnsupportedOperation,
    ignore_progress,
)
from wharf.platform.addons.images import ADDON_HOME, DEFAULT_RUN_IMAGE, ensure_addon_image, recipe_for
from wharf.platform.runtime.base import LABEL_APP, NetworkInUse, Runtime
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.security.authority import Leaf, issue_leaf
from wharf.platform.settings import Settings

SECOND_NS = 1_000_000_000
MIB = 1024 * 1024
LOG_CONFIG = LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"})
SCRATCH = "rw,nosuid,nodev,mode=1777"
HEALTHY_TIMEOUT = 120.0
DEFAULT_CERTIFICATE_LIFETIME = datetime.timedelta(days=90)
# A served certificate is replaced once less than this part of its life is left.
RENEW_FRACTION = 1 / 3


def volume_name(addon: str) -> str:
    return f"wharf-addon-{addon}"


class DockerAddonProvider:
    """The container lifecycle shared by every kind; subclasses describe their server."""

    kind = ""
    port = 0
    memory_bytes = 256 * MIB
    persistent = True
    scratch_paths: tuple[str, ...] = ("/tmp",)  # noqa: S108 - tmpfs inside the container

    def __init__(
        self,
        *,
        client: docker.DockerClient | None = None,
        home: str,
        lock_dir: Path,
        run_image: str = DEFAULT_RUN_IMAGE,
        tls_intermediate: Path | None = None,
        certificate_lifetime: datetime.timedelta = DEFAULT_CERTIFICATE_LIFETIME,
        networks: Runtime | None = None,
    ) -> None:
        self._client = client or docker.from_env()
        # Who makes the apps' networks: the dynos' runtime, so that an add-on made before the app's
        # first dyno sits on the network its dynos use (an attachable overlay on a Swarm).
        self._networks: Runtime = networks or DockerRuntime(self._client)
        self._home = home
        self._lock_dir = lock_dir
        self._run_image = run_image
        # The local authority's intermediate: kinds that serve TLS get a certificate signed by it.
        self._tls_intermediate = tls_intermediate
        self.certificate_lifetime = certificate_lifetime
        # (container id, StartedAt) -> when the certificate that container serves expires.
        self._served_until: dict[tuple[str, str], datetime.datetime] = {}

    # what a kind describes

    def new_credentials(self) -> dict[str, str]:
        raise NotImplementedError

    def connection_url(self, spec: AddonSpec) -> str:
        raise NotImplementedError

    def environment(self, spec: AddonSpec) -> dict[str, str]:
        """Variables the server's entrypoint reads when it starts."""
        return {}

    def tls_url(self, spec: AddonSpec) -> str | None:
        """A second URL over TLS, for kinds that serve it on a port of its own (Redis)."""
        return None

    def creation_environment(self, spec: AddonSpec) -> dict[str, str]:
        """Variables given only when the container is created (a TLS certificate and its key)."""
        return {}

    def probe_argv(self, spec: AddonSpec) -> list[str]:
        """A command run inside the container that exits 0 once the server answers."""
        raise NotImplementedError

    def served_certificate(self, spec: AddonSpec) -> bytes | None:
        """The PEM certificate the running server serves TLS with; None for kinds without TLS."""
        return None

    def install_certificate(self, spec: AddonSpec, leaf: Leaf) -> None:
        """Write ``leaf`` over the served certificate files (key 0600) and make the server reload them."""
        raise UnsupportedOperation(f"{self.kind} add-ons serve no TLS")

    def console_argv(self, spec: AddonSpec, command: str) -> tuple[list[str], dict[str, str]]:
        raise UnsupportedOperation(f"{self.kind} add-ons have no console")

    def info(self, spec: AddonSpec) -> dict[str, str]:
        return {"Status": self.health(spec).state.value}

    # TLS certificates

    def new_leaf(self, spec: AddonSpec) -> Leaf | None:
        """A server certificate for the add-on's name on the app network, from the local authority."""
        if self._tls_intermediate is None:
            return None
        return issue_leaf(self._tls_intermediate, [spec.host], self.certificate_lifetime)

    def renew_certificate(self, spec: AddonSpec, *, force: bool = False) -> str | None:
        """Replace the running server's certificate in place, without a restart, once less than a third
        of its life is left (or at once with ``force``). The new certificate's serial (hex) when replaced.

        A restarted container serves the certificate it was created with again; the next pass sees it.
        """
        if self._tls_intermediate is None:
            return None
        container = self._require(spec)
        served = (str(container.id), str((container.attrs.get("State") or {}).get("StartedAt", "")))
        until = self._served_until.get(served)
        if until is None:
            pem = self.served_certificate(spec)
            if not pem:
                return None  # a container made before its kind served TLS
            until = x509.load_pem_x509_certificate(pem).not_valid_after_utc
            self._served_until[served] = until
        left = until - datetime.datetime.now(datetime.UTC)
        if not force and left > self.certificate_lifetime * RENEW_FRACTION:
            return None
        leaf = self.new_leaf(spec)
        assert leaf is not None
        self.install_certificate(spec, leaf)
        self._served_until[served] = leaf.not_after
        return f"{x509.load_pem_x509_certificate(leaf.chain_pem).serial_number:X}"

    # lifecycle

    @property
    def image(self) -> str:
        return recipe_for(self.kind).image

    def provision(self, spec: AddonSpec, *, progress: Progress = ignore_progress) -> None:
        ensure_addon_image(
            self._client, self.kind, lock_dir=self._lock_dir, run_image=self._run_image, progress=progress
        )
        self.ensure_app_network(spec.app)
        container = self._find(spec)
        if container is None:
            progress(f"-----> Starting {spec.name} on the network of {spec.app}")
            container = self._create(spec)
        if container.status != "running":
            container.start()
        self.wait_healthy(spec, container)
        progress(f"-----> {spec.name} is available")

    def deprovision(self, spec: AddonSpec) -> None:
        container = self._find(spec)
        if container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        with contextlib.suppress(docker.errors.NotFound):
            self._client.volumes.get(volume_name(spec.name)).remove(force=True)
        with contextlib.suppress(NetworkInUse):
            # An app without dynos has nothing else that would ever remove its network.
            self._networks.remove_network(spec.app)

    def restart(self, spec: AddonSpec) -> None:
        container = self._find(spec)
        if container is None:
            raise AddonError(f"{spec.name} has no container to restart")
        container.restart(timeout=30)

    def health(self, spec: AddonSpec) -> AddonHealth:
        container = self._find(spec)
        if container is None:
            if self.persistent and not self._volume_exists(spec):
                return AddonHealth(AddonState.MISSING, "no container and no volume", data_lost=True)
            return AddonHealth(AddonState.MISSING, "no container")
        state: Mapping[str, Any] = container.attrs.get("State") or {}
        if state.get("Status") != "running":
            return AddonHealth(AddonState.STOPPED, f"container {state.get('Status')}")
        status = str((state.get("Health") or {}).get("Status") or "")
        if status == "unhealthy":
            return AddonHealth(AddonState.UNHEALTHY, "health check failing")
        if status == "healthy" or self._probe(container, spec):
            return AddonHealth(AddonState.HEALTHY, "answering")
        return AddonHealth(AddonState.STARTING, "not answering yet")

    def wait_healthy(self, spec: AddonSpec, container: Container, timeout: float = HEALTHY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            container.reload()
            if container.status in ("exited", "dead") or int(container.attrs.get("RestartCount", 0)) > 2:
                break
            if container.status == "running" and self._probe(container, spec):
                return
            time.sleep(0.3)
        logs = container.logs(tail=20).decode(errors="replace")
        raise AddonError(f"{spec.name} did not become healthy within {timeout:.0f} s:\n{logs}")

    def run_console(self, spec: AddonSpec, command: str, *, timeout: float = 60.0) -> ConsoleResult:
        argv, env = self.console_argv(spec, command)
        container: Container = self._client.containers.create(
            image=self.image,
            entrypoint=argv,
            environment=env,
            labels={LABEL_APP: spec.app, LABEL_ADDON_KIND: f"{self.kind}-console"},
            network=self.ensure_app_network(spec.app),
            **self._hardening(memory_bytes=128 * MIB),
        )
        try:
            container.start()
            try:
                code = int(container.wait(timeout=timeout)["StatusCode"])
            except Exception:
                container.kill()
                code = 124
            output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        finally:
            container.remove(force=True)
        return ConsoleResult(exit_code=code, output=output)

    # helpers

    def ensure_app_network(self, app: str) -> str:
        """The app's network, made by the dynos' runtime if missing; its name."""
        return self._networks.ensure_network(app)

    def exec_in(
        self, spec: AddonSpec, argv: list[str], env: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        """Run a command inside the add-on's own container (probes, info, dumps)."""
        container = self._require(spec)
        result = container.exec_run(argv, environment=dict(env or {}), demux=False)
        return int(result.exit_code), bytes(result.output or b"").decode(errors="replace")

    def _probe(self, container: Container, spec: AddonSpec) -> bool:
        try:
            result = container.exec_run(self.probe_argv(spec), environment=self.environment(spec))
        except docker.errors.APIError:
            return False
        return int(result.exit_code) == 0

    def _require(self, spec: AddonSpec) -> Container:
        container = self._find(spec)
        if container is None or container.status != "running":
            raise AddonError(f"{spec.name} is not running; Wharf restarts it shortly, try again in a minute")
        return container

    def _find(self, spec: AddonSpec) -> Container | None:
        try:
            container: Container = self._client.containers.get(spec.name)
        except docker.errors.NotFound:
            return None
        labels = container.labels
        if labels.get(LABEL_ADDON) != spec.name or labels.get(LABEL_ADDON_HOME) != self._home:
            raise AddonError(f"a container named {spec.name} exists but is not this add-on")
        return container

    def _labels(self, spec: AddonSpec) -> dict[str, str]:
        return {
            LABEL_ADDON: spec.name,
            LABEL_APP: spec.app,
            LABEL_ADDON_KIND: self.kind,
            LABEL_ADDON_HOME: self._home,
        }

    def _hardening(self, *, memory_bytes: int) -> dict[str, Any]:
        return {
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            "pids_limit": 512,
            "mem_limit": memory_bytes,
            "memswap_limit": memory_bytes,
            "read_only": True,
            "tmpfs": {path: SCRATCH for path in self.scratch_paths},
            "log_config": LOG_CONFIG,
            "init": True,
        }

    def _healthcheck(self, spec: AddonSpec) -> dict[str, Any]:
        return {
            "test": ["CMD", *self.probe_argv(spec)],
            "interval": 10 * SECOND_NS,
            "timeout": 5 * SECOND_NS,
            "retries": 3,
            "start_period": 30 * SECOND_NS,
        }

    def _volume_exists(self, spec: AddonSpec) -> bool:
        try:
            self._client.volumes.get(volume_name(spec.name))
        except docker.errors.NotFound:
            return False
        return True

    def _mounts(self, spec: AddonSpec) -> list[Mount]:
        if not self.persistent:
            return []
        name = volume_name(spec.name)
        try:
            self._client.volumes.get(name)
        except docker.errors.NotFound:
            self._client.volumes.create(name, labels=self._labels(spec))
        return [Mount(target=ADDON_HOME, source=name, type="volume")]

    def _create(self, spec: AddonSpec) -> Container:
        recipe = recipe_for(self.kind)
        container: Container = self._client.containers.create(
            image=self.image,
            name=spec.name,
            hostname=spec.name,
            # The entrypoint of this version of Wharf, not the copy baked into an older image.
            entrypoint=["/bin/sh", "-c", recipe.entrypoint.read_text(encoding="utf-8"), "wharf-addon"],
            environment={**self.environment(spec), **self.creation_environment(spec)},
            labels=self._labels(spec),
            network=self.ensure_app_network(spec.app),
            restart_policy={"Name": "unless-stopped"},
            healthcheck=self._healthcheck(spec),
            mounts=self._mounts(spec),
            **self._hardening(memory_bytes=self.memory_bytes),
        )
        return container


def docker_addon_providers(settings: Settings) -> AddonProviders:
    """A Docker provider for every kind, locking across processes under the data directory."""
    client = docker.from_env()
    return _providers_on(client, settings, networks=DockerRuntime(client))


def swarm_addon_providers(settings: Settings) -> AddonProviders:
    """The Docker providers on the manager's engine, on the apps' attachable overlay networks, so that
    dynos on every node reach the add-ons by name."""
    from wharf.platform.runtime.swarm_runtime import SwarmRuntime

    client = docker.from_env()
    return _providers_on(
        client, settings, networks=SwarmRuntime(client, installation=settings.installation_id)
    )


def _providers_on(client: docker.DockerClient, settings: Settings, *, networks: Runtime) -> AddonProviders:
    from wharf.platform.addons.kv_addons import MemcachedProvider, RedisProvider
    from wharf.platform.addons.postgres_addon import PostgresProvider
    from wharf.platform.security.authority import ensure_authority

    lock_dir = settings.wharf_data_dir / "addons" / "locks"
    home = installation_id(settings.wharf_data_dir)
    intermediate = ensure_authority(settings.wharf_data_dir).intermediate
    providers: dict[str, AddonProvider] = {
        provider_class.kind: provider_class(
            client=client,
            home=home,
            lock_dir=lock_dir,
            run_image=settings.wharf_run_image,
            tls_intermediate=intermediate,
            certificate_lifetime=datetime.timedelta(days=settings.wharf_addon_certificate_days),
            networks=networks,
        )
        for provider_class in (PostgresProvider, RedisProvider, MemcachedProvider)
    }
    return AddonProviders(providers, lock_dir=lock_dir)
