"""The registry container on the manager: its files in the data dir, its certificate from Wharf's local
authority for the address the nodes reach, and the container itself, listening on that address only.

    <data>/registry/config.yml      the registry's configuration (deletes allowed, for `wharfd gc`)
    <data>/registry/tls/chain.pem   server certificate, the intermediate, then the root (0644)
    <data>/registry/tls/key.pem     its key (0600)
    <data>/registry/storage/        the images' blobs and manifests
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
from cryptography import x509

from wharf.platform.registry.api import RegistryApi
from wharf.platform.registry.image import (
    CONFIG_PATH,
    REGISTRY_IMAGE,
    STORAGE_PATH,
    TLS_PATH,
    ensure_registry_image,
)
from wharf.platform.security.authority import ensure_authority, issue_leaf, write_private

REGISTRY_PORT = 5443
CONTAINER_NAME = "wharf-registry"
START_TIMEOUT = 60.0
# What garbage-collect says when nothing was ever pushed: nothing to collect.
EMPTY_STORAGE = "Path not found: /docker/registry/v2/repositories"
CERTIFICATE_LIFETIME = datetime.timedelta(days=90)
# A certificate with less than this left is replaced when the registry is (re)started.
RENEW_BEFORE = datetime.timedelta(days=30)
REGISTRY_CONFIG = f"""\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {STORAGE_PATH}
  delete:
    enabled: true
http:
  addr: :5000
  tls:
    certificate: {TLS_PATH}/chain.pem
    key: {TLS_PATH}/key.pem
"""


@dataclass(frozen=True)
class RegistryPaths:
    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "config.yml"

    @property
    def chain(self) -> Path:
        return self.folder / "tls" / "chain.pem"

    @property
    def key(self) -> Path:
        return self.folder / "tls" / "key.pem"

    @property
    def storage(self) -> Path:
        return self.folder / "storage"


@dataclass(frozen=True)
class RunningRegistry:
    """Where the registry answers (`address:port`, as image names and certs.d spell it) and its root CA."""

    address: str
    port: int
    root_pem: bytes
    container_id: str
    storage: Path

    @property
    def host(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def api(self) -> RegistryApi:
        return RegistryApi(self.host, self.root_pem)


def registry_paths(data_dir: Path) -> RegistryPaths:
    return RegistryPaths(data_dir / "registry")


def _certificate_due(paths: RegistryPaths, address: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(paths.chain.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return True
    served = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    served |= set(names.get_values_for_type(x509.DNSName))
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return address not in served or left < RENEW_BEFORE


def write_registry_files(data_dir: Path, address: str) -> RegistryPaths:
    """The configuration, and a server certificate for `address` unless a current one is there."""
    paths = registry_paths(data_dir)
    authority = ensure_authority(data_dir)
    paths.storage.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.config.write_text(REGISTRY_CONFIG)
    if _certificate_due(paths, address):
        leaf = issue_leaf(authority.intermediate, [address], CERTIFICATE_LIFETIME)
        # The root rides along at the chain's end: `wharfd node join` pins it by its fingerprint.
        write_private(paths.key, leaf.key_pem)
        paths.chain.write_bytes(leaf.chain_pem + authority.root_cert.read_bytes())
        paths.chain.chmod(0o644)
    return paths


def _existing(client: Any) -> Any | None:
    try:
        return client.containers.get(CONTAINER_NAME)
    except docker.errors.NotFound:
        return None


def _serves(container: Any, address: str, port: int, chain_mtime: float) -> bool:
    bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    wanted = [{"HostIp": address, "HostPort": str(port)}]
    labels = container.labels or {}
    return (
        container.status == "running"
        and bindings.get("5000/tcp") == wanted
        and labels.get("wharf.registry.certificate") == str(int(chain_mtime))
    )


def start_registry(client: Any, data_dir: Path, address: str, port: int = REGISTRY_PORT) -> RunningRegistry:
    """Run the registry on this engine at `address:port` (the address the nodes reach), building its
    image from the run stack if missing; a running one with the same address and certificate is kept."""
    paths = write_registry_files(data_dir, address)
    root_pem = ensure_authority(data_dir).root_cert.read_bytes()
    chain_mtime = paths.chain.stat().st_mtime
    container = _existing(client)
    if container is not None and _serves(container, address, port, chain_mtime):
        return RunningRegistry(address, port, root_pem, str(container.id), paths.storage)
    if container is not None:
        container.remove(force=True)
    ensure_registry_image(client)
    container = client.containers.run(
        REGISTRY_IMAGE,
        name=CONTAINER_NAME,
        detach=True,
        ports={"5000/tcp": (address, port)},
        volumes={
            str(paths.config): {"bind": CONFIG_PATH, "mode": "ro"},
            str(paths.chain.parent): {"bind": TLS_PATH, "mode": "ro"},
            str(paths.storage): {"bind": STORAGE_PATH, "mode": "rw"},
        },
        labels={"wharf.component": "registry", "wharf.registry.certificate": str(int(chain_mtime))},
        restart_policy={"Name": "unless-stopped"},
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        log_config={"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
    )
    running = RunningRegistry(address, port, root_pem, str(container.id), paths.storage)
    _wait_until_answering(container, running.api)
    return running


def _wait_until_answering(container: Any, api: RegistryApi) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not api.answers():
        container.reload()
        if container.status not in ("created", "running") or time.monotonic() > deadline:
            logs = container.logs(tail=20).decode(errors="replace")
            raise RuntimeError(f"the registry did not answer at {api.host}: {logs}")
        time.sleep(0.2)


def renew_certificate(client: Any, data_dir: Path, registry: str) -> bool:
    """Give the registry running on this engine a new certificate once its current one is due (the
    container restarts with it); False where it does not run here."""
    if _existing(client) is None:
        return False
    address, _, port = registry.rpartition(":")
    start_registry(client, data_dir, address, int(port))
    return True


def stop_registry(client: Any) -> None:
    container = _existing(client)
    if container is not None:
        container.remove(force=True)


def collect_garbage(client: Any) -> str:
    """The registry's own garbage collection of blobs no manifest names any more; what it printed."""
    container = client.containers.get(CONTAINER_NAME)
    result = container.exec_run(
        ["/usr/bin/docker-registry", "garbage-collect", "--delete-untagged", CONFIG_PATH]
    )
    output = bytes(result.output or b"").decode(errors="replace")
    if result.exit_code != 0 and EMPTY_STORAGE not in output:
        raise RuntimeError(f"the registry's garbage-collect failed: {output.strip()[-500:]}")
    return output
