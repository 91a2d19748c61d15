"""Where a dyno may run on a runtime of several nodes (a Swarm): the nodes, their availability and
labels, and the placement constraints a dyno's labels carry, read the way Swarm reads them.

A DynoSpec label `wharf.placement.<name>` is a constraint (`node.labels.wharf.role==web`); the
rebalance (scheduler/rebalance.py) adds one more, `wharf.placement.rebalance=node.id==<node>`, to the
replacement it starts on a chosen node. That one holds for the replacement's start only: it is no
constraint of the process type, so a later replacement (a crash, a restart) goes wherever Swarm puts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from wharf.platform.runtime.base import MIB
from wharf.platform.runtime.node_room import NodeLoad

LABEL_PLACEMENT_PREFIX = "wharf.placement."
LABEL_MOVE_TARGET = f"{LABEL_PLACEMENT_PREFIX}rebalance"
READY = "ready"
ACTIVE = "active"


@dataclass(frozen=True)
class PlacementNode:
    """A node as placement sees it: Swarm's state (ready, down, ...) and availability (active, pause,
    drain), and what constraints may name."""

    id: str
    hostname: str = ""
    role: str = "worker"
    state: str = READY
    availability: str = ACTIVE
    labels: Mapping[str, str] = field(default_factory=dict)
    engine_labels: Mapping[str, str] = field(default_factory=dict)
    os: str = ""
    arch: str = ""
    # What the node's engine reports (Description.Resources); 0 when unknown.
    memory_bytes: int = 0

    @property
    def takes_dynos(self) -> bool:
        """Ready and active: Swarm places new tasks here."""
        return self.state == READY and self.availability == ACTIVE

    @property
    def label(self) -> str:
        return f"node {self.id[:12]} ({self.hostname})" if self.hostname else f"node {self.id[:12]}"

    def attribute(self, name: str) -> str | None:
        """The value a constraint's left side names, None for a label the node lacks."""
        fixed = {
            "node.id": self.id,
            "node.hostname": self.hostname,
            "node.role": self.role,
            "node.platform.os": self.os,
            "node.platform.arch": self.arch,
        }
        if name in fixed:
            return fixed[name]
        for prefix, labels in (("node.labels.", self.labels), ("engine.labels.", self.engine_labels)):
            if name.startswith(prefix):
                return labels.get(name[len(prefix) :])
        return None


@runtime_checkable
class NodeAwareRuntime(Protocol):
    """A runtime that runs dynos on several nodes and says which (Dyno.node) and what they are."""

    def placement_nodes(self) -> list[PlacementNode]:
        """Every node, whatever its state."""
        ...


def placement_constraints(labels: Mapping[str, str]) -> list[str]:
    """The constraints a spec's placement labels carry, sorted so a spec always makes one service."""
    return sorted(value for key, value in labels.items() if key.startswith(LABEL_PLACEMENT_PREFIX))


def process_constraints(labels: Mapping[str, str]) -> list[str]:
    """A dyno's constraints that hold for its process type: all but a rebalance's chosen node."""
    return placement_constraints({k: v for k, v in labels.items() if k != LABEL_MOVE_TARGET})


def onto_node(node_id: str) -> dict[str, str]:
    """The placement label that starts a dyno on this node."""
    return {LABEL_MOVE_TARGET: f"node.id=={node_id}"}


def fits(node: PlacementNode, constraints: Iterable[str]) -> bool:
    """Whether every constraint (`name==value` or `name!=value`) holds on the node, as Swarm decides:
    a label the node lacks fails `==` and passes `!=`."""
    for constraint in constraints:
        negated = "!=" in constraint
        name, _, value = constraint.partition("!=" if negated else "==")
        found = node.attribute(name.strip())
        matches = found is not None and found.lower() == value.strip().lower()
        if matches == negated:
            return False
    return True


def swarm_placement_node(node: Mapping[str, Any]) -> PlacementNode:
    """A node from the Engine API's node JSON."""
    spec = node.get("Spec") or {}
    description = node.get("Description") or {}
    platform = description.get("Platform") or {}
    return PlacementNode(
        id=str(node["ID"]),
        hostname=str(description.get("Hostname", "")),
        role=str(spec.get("Role", "")),
        state=str((node.get("Status") or {}).get("State", "")),
        availability=str(spec.get("Availability", "")),
        labels=dict(spec.get("Labels") or {}),
        engine_labels=dict((description.get("Engine") or {}).get("Labels") or {}),
        os=str(platform.get("OS", "")),
        arch=str(platform.get("Architecture", "")),
        memory_bytes=int((description.get("Resources") or {}).get("MemoryBytes", 0)),
    )


class NoPlacement(Exception):
    """No node may take a dyno; the message says why, and what to do."""


def attached_oneoff_node(
    nodes: Iterable[PlacementNode],
    constraints: Iterable[str],
    own_node: str,
    load: Callable[[], NodeLoad],
    memory_bytes: int,
) -> PlacementNode:
    """Where an attached one-off needing MEMORY_BYTES runs: among the nodes that take dynos, fit its
    constraints and have that much memory free (`load()`: Swarm's reservations there and the attached
    one-offs, which Swarm does not count), the control plane's own (no relay, and the image already
    there) if it is one of them, else the one running the fewest dynos, as Swarm spreads tasks.
    A node whose memory is unknown is taken as having room. NoPlacement when no node fits."""
    wanted = list(constraints)
    eligible = [node for node in nodes if node.takes_dynos and fits(node, wanted)]
    if not eligible:
        raise NoPlacement("no node takes dynos and fits its placement")
    taken = load()
    roomy = [
        node
        for node in eligible
        if not node.memory_bytes or taken.memory_free(node.id, node.memory_bytes) >= memory_bytes
    ]
    if not roomy:
        free = ", ".join(
            f"{node.label} {taken.memory_free(node.id, node.memory_bytes) // MIB} MB" for node in eligible
        )
        raise NoPlacement(
            f"no node has the {memory_bytes // MIB} MB it needs free (free: {free}): stop a one-off, "
            "scale a process type down, or add a node (wharfd nodes:add)"
        )
    for node in roomy:
        if node.id == own_node:
            return node
    return min(roomy, key=lambda node: (taken.dynos.get(node.id, 0), node.id))
