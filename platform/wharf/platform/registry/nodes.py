"""The registry from the cluster commands' side: started on the manager by `wharfd cluster init`, and
trusted by each engine (the manager's own, and every node `wharfd node join` joins), each step said."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wharf.platform.registry.ca_file import DOCKER_CERTS_DIR, install_ca
from wharf.platform.registry.server import REGISTRY_PORT, RunningRegistry, start_registry
from wharf.platform.registry.trust import fetch_pinned_root, root_fingerprint

Say = Callable[[str], None]


def node_address(client: Any, node_id: str) -> str:
    """The address the swarm knows this node by (the one other nodes reach)."""
    return str(client.nodes.get(node_id).attrs.get("Status", {}).get("Addr", ""))


def registry_on_manager(
    client: Any, data_dir: Path, address: str, say: Say, *, port: int = REGISTRY_PORT
) -> RunningRegistry:
    """Start the registry on the manager's engine at `address:port` and make this engine trust it."""
    running = start_registry(client, data_dir, address, port)
    say(f"The image registry runs on this host at {running.host} (container wharf-registry, data in "
        f"{data_dir / 'registry'}).")  # fmt: skip
    trust_registry(running.host, running.root_pem, say)
    return running


def trust_registry(registry: str, root_pem: bytes, say: Say, certs_dir: Path = DOCKER_CERTS_DIR) -> Path:
    path = install_ca(registry, root_pem, certs_dir)
    say(f"Wrote Wharf's root CA ({root_fingerprint(root_pem)}) to {path}: this engine trusts {registry}.")
    return path


def join_options(registry: str, root_pem: bytes) -> list[str]:
    """What `wharfd nodes:add` adds to the join command so that the new node trusts the registry."""
    return ["--registry", registry, "--registry-ca", root_fingerprint(root_pem)]


def trust_registry_from_join(registry: str, fingerprint: str, say: Say) -> Path:
    """On a joining node: fetch the registry's root, keep it if it is the pinned one, and install it."""
    return trust_registry(registry, fetch_pinned_root(registry, fingerprint), say)
