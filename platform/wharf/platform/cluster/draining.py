"""Taking a node out: drain it (Swarm moves its tasks elsewhere), then remove it from the swarm."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wharf.platform.cluster.errors import ClusterError
from wharf.platform.cluster.membership import require_manager
from wharf.platform.cluster.nodes import find_node, live_tasks, wharf_service_ids

if TYPE_CHECKING:
    import docker

Progress = Callable[[str], None]


def set_availability(client: docker.DockerClient, node: dict[str, Any], availability: str) -> None:
    spec = {**node["Spec"], "Availability": availability}
    client.api.update_node(node["ID"], node["Version"]["Index"], spec)


def set_role(client: docker.DockerClient, node: dict[str, Any], role: str) -> None:
    spec = {**node["Spec"], "Role": role}
    client.api.update_node(node["ID"], node["Version"]["Index"], spec)


def drain_node(
    client: docker.DockerClient,
    name: str,
    *,
    progress: Progress,
    timeout: float = 300.0,
    poll: float = 1.0,
) -> int:
    """Set `name`'s availability to drain and wait until no Wharf task is left on it; the number of
    Wharf dynos it held. Progress lines go to `progress` as the count falls."""
    require_manager(client)
    node = find_node(client, name)
    label = _label(node)
    before = _wharf_tasks_on(client, node["ID"])
    set_availability(client, node, "drain")
    progress(f"{label}: availability drain, {len(before)} dynos to move")
    deadline = time.monotonic() + timeout
    shown = len(before)
    while True:
        left = _wharf_tasks_on(client, node["ID"])
        if len(left) != shown:
            shown = len(left)
            progress(f"{label}: {shown} dynos left")
        if not left:
            break
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{label} still runs {len(left)} dynos after {timeout:.0f} s: the other nodes may lack "
                "room for them (wharfd nodes shows what is free); run wharfd nodes:drain again to wait more"
            )
        time.sleep(poll)
    progress(f"{label}: drained, no dynos left")
    return len(before)


def remove_node(client: docker.DockerClient, name: str, *, force: bool = False) -> str:
    """Remove `name` from the swarm; the id removed. Refuses a node with tasks on it that is not
    drained, and a reachable manager, unless `force`; a manager is demoted first. The last manager is
    never removed: it is the swarm."""
    joined = require_manager(client)
    node = find_node(client, name)
    label = _label(node)
    drained = node["Spec"].get("Availability") == "drain"
    if not force and not drained and live_tasks(client, node["ID"]):
        raise ClusterError(
            f"{label} still runs tasks: run wharfd nodes:drain {node['ID']} first (or pass --force)"
        )
    if node["Spec"].get("Role") == "manager":
        _demote(client, node, joined.node_id, force=force or drained)
        node = find_node(client, node["ID"])
    import docker

    reachable = node.get("Status", {}).get("State") != "down"
    try:
        client.api.remove_node(node["ID"], force=reachable)
    except docker.errors.APIError as error:
        raise ClusterError(f"could not remove {label}: {error.explanation or error}") from None
    return str(node["ID"])


def _demote(client: docker.DockerClient, node: dict[str, Any], self_id: str, *, force: bool) -> None:
    label = _label(node)
    if node["ID"] == self_id:
        raise ClusterError(
            f"{label} is the manager this command runs on: run it on another manager, or leave the "
            "swarm with `docker swarm leave --force` on this host if it is the last node"
        )
    managers = [n for n in client.api.nodes(filters={"role": "manager"}) if n["ID"] != node["ID"]]
    if not managers:
        raise ClusterError(f"{label} is the swarm's last manager: promote another node first")
    reachable = node.get("ManagerStatus", {}).get("Reachability") == "reachable"
    if reachable and not force:
        raise ClusterError(f"{label} is a reachable manager: drain it first (or pass --force)")
    set_role(client, node, "worker")
    deadline = time.monotonic() + 60
    while find_node(client, node["ID"]).get("ManagerStatus") and time.monotonic() < deadline:
        time.sleep(0.5)


def _wharf_tasks_on(client: docker.DockerClient, node_id: str) -> list[dict[str, Any]]:
    wharf_services = wharf_service_ids(client)
    return [task for task in live_tasks(client, node_id) if task.get("ServiceID") in wharf_services]


def _label(node: dict[str, Any]) -> str:
    hostname = node.get("Description", {}).get("Hostname", "")
    return f"node {node['ID'][:12]} ({hostname})" if hostname else f"node {node['ID'][:12]}"
