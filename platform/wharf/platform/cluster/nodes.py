"""The swarm's nodes as `wharfd nodes` shows them: role, state, availability, the Wharf dynos on each
(running tasks of services carrying Wharf's managed label) and the CPU and memory free (the node's
resources minus the reservations of the tasks that run there)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from wharf.platform.cluster.errors import ClusterError
from wharf.platform.runtime.base import LABEL_MANAGED, MIB
from wharf.platform.runtime.node_room import Reserved, is_live, reserved_per_node

if TYPE_CHECKING:
    import docker


@dataclass(frozen=True)
class NodeReport:
    id: str
    hostname: str
    role: str
    state: str
    availability: str
    address: str
    dynos: int
    cpu_free: float
    memory_free_mb: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def wharf_service_ids(client: docker.DockerClient) -> set[str]:
    return {service["ID"] for service in client.api.services(filters={"label": f"{LABEL_MANAGED}=1"})}


def live_tasks(client: docker.DockerClient, node_id: str | None = None) -> list[dict[str, Any]]:
    """Tasks that hold a place on a node (on `node_id` only, if given)."""
    filters = {"node": node_id} if node_id else {}
    tasks: list[dict[str, Any]] = client.api.tasks(filters=filters)
    return [task for task in tasks if is_live(task)]


def list_nodes(client: docker.DockerClient) -> list[NodeReport]:
    """Every node of the swarm, managers first, then by hostname."""
    wharf_services = wharf_service_ids(client)
    tasks = live_tasks(client)
    reserved = reserved_per_node(tasks)
    reports = [_report(node, tasks, reserved, wharf_services) for node in client.api.nodes()]
    return sorted(reports, key=lambda report: (report.role != "manager", report.hostname, report.id))


def find_node(client: docker.DockerClient, name: str) -> dict[str, Any]:
    """The node `name` names: its id, a unique prefix of its id, or its unique hostname."""
    nodes: list[dict[str, Any]] = client.api.nodes()
    exact = [node for node in nodes if node["ID"] == name]
    by_prefix = [node for node in nodes if node["ID"].startswith(name)]
    by_hostname = [node for node in nodes if node.get("Description", {}).get("Hostname") == name]
    for found in (exact, by_prefix, by_hostname):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ClusterError(f"{name!r} names {len(found)} nodes: use the node's id (wharfd nodes)")
    raise ClusterError(f"no node {name!r} in this swarm: wharfd nodes lists them")


def wharf_dynos_on(tasks: Iterable[dict[str, Any]], node_id: str, wharf_services: set[str]) -> int:
    return sum(
        1
        for task in tasks
        if task.get("NodeID") == node_id
        and task.get("ServiceID") in wharf_services
        and task.get("Status", {}).get("State") == "running"
    )


def _report(
    node: dict[str, Any],
    tasks: list[dict[str, Any]],
    reserved_on: dict[str, Reserved],
    wharf_services: set[str],
) -> NodeReport:
    node_id = str(node["ID"])
    description = node.get("Description", {})
    resources = description.get("Resources", {})
    reserved = reserved_on.get(node_id, Reserved())
    return NodeReport(
        id=node_id,
        hostname=str(description.get("Hostname", "")),
        role=str(node.get("Spec", {}).get("Role", "")),
        state=str(node.get("Status", {}).get("State", "")),
        availability=str(node.get("Spec", {}).get("Availability", "")),
        address=_address(node),
        dynos=wharf_dynos_on(tasks, node_id, wharf_services),
        cpu_free=round(max(0, int(resources.get("NanoCPUs", 0)) - reserved.nano_cpus) / 1e9, 2),
        memory_free_mb=max(0, int(resources.get("MemoryBytes", 0)) - reserved.memory_bytes) // MIB,
    )


def _address(node: dict[str, Any]) -> str:
    """The node's address; a manager may report 0.0.0.0 there, its manager address says where it is."""
    address = str(node.get("Status", {}).get("Addr", ""))
    if address in ("", "0.0.0.0"):  # noqa: S104  (a value read, not a bind)
        manager = str(node.get("ManagerStatus", {}).get("Addr", ""))
        address = manager.rsplit(":", 1)[0] if manager else address
    return address
