"""Every node trusts the swarm's registry, also a node that joined before the registry existed: the node
agent (one task per node) keeps Wharf's root CA in its node's /etc/docker/certs.d/HOST:PORT/ca.crt.

The manager hands the CA to the agents' service as a Swarm config (the certificate only; no key
exists on that side) with the registry's address in the environment, and mounts the node's
/etc/docker: a Swarm bind mount's source must exist on the node (Engine API 1.41 cannot create it),
and /etc/docker is the one directory every node's engine has, where certs.d may not be yet. The
agent compares the file with the CA every `TRUST_INTERVAL` seconds and writes it, whole and renamed
into place, only when it differs or is missing, so an operator who deletes it gets it back.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from wharf.platform.registry.ca_file import NotACertificate, write_ca_if_changed

logger = logging.getLogger(__name__)

# Where the agent's task sees its node's /etc/docker, and the CA's config file.
NODE_DOCKER_CONFIG = "/etc/docker"
MOUNTED_DOCKER_CONFIG = "/host/etc/docker"
CA_CONFIG_FILE = "/wharf-registry-ca.crt"
REGISTRY_ENV = "WHARF_REGISTRY"
CA_FILE_ENV = "WHARF_REGISTRY_CA_FILE"
TRUST_INTERVAL = 10.0


@dataclass(frozen=True)
class RegistryTrust:
    """The registry (`address:port`) every node must trust, and its CA in PEM."""

    registry: str
    ca_pem: bytes


@dataclass(frozen=True)
class NodeTrustConfig:
    """What a task of the agent's service reads: the registry, its CA's file, and the node's certs.d."""

    registry: str
    ca_file: Path
    certs_dir: Path = Path(MOUNTED_DOCKER_CONFIG) / "certs.d"

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> NodeTrustConfig | None:
        """None when the swarm has no registry (the service carries no CA)."""
        registry = environ.get(REGISTRY_ENV, "")
        if not registry:
            return None
        return cls(registry=registry, ca_file=Path(environ.get(CA_FILE_ENV, CA_CONFIG_FILE)))


def trust_registry_once(config: NodeTrustConfig) -> bool:
    """Write the CA into the node's certs.d if it is not there as it should be; whether it was written."""
    written = write_ca_if_changed(config.registry, config.ca_file.read_bytes(), config.certs_dir)
    if written:
        logger.info("wrote the registry's CA to certs.d/%s/ca.crt: this node trusts it", config.registry)
    return written


def keep_registry_trusted(
    config: NodeTrustConfig, stop: threading.Event, interval: float = TRUST_INTERVAL
) -> None:
    """trust_registry_once until `stop` is set; a failure is said and tried again."""
    while not stop.is_set():
        try:
            trust_registry_once(config)
        except (OSError, NotACertificate, ValueError) as error:
            logger.warning("cannot write the registry's CA for %s: %s", config.registry, error)
        stop.wait(interval)


def start_registry_trust(environ: dict[str, str], stop: threading.Event) -> threading.Thread | None:
    """The thread that keeps this node trusting the registry, started; None when there is no registry."""
    config = NodeTrustConfig.from_environment(environ)
    if config is None:
        return None
    thread = threading.Thread(target=keep_registry_trusted, args=(config, stop), name="registry-trust")
    thread.start()
    return thread
