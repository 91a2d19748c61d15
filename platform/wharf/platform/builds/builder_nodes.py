"""Which node of a swarm compiles a build: a node labelled `wharf.role=builder` whose agent listens
for builds and which has the build's memory free (its tasks' reservations and the builds running there
counted: builder_claims.py), the one with the most; none, and the build runs on the manager, as on one
host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wharf.platform.builds import relay_wire as wire
from wharf.platform.runtime.node_room import reserved_per_node

BUILDER_ROLE = "builder"
ROLE_LABEL = "wharf.role"


@dataclass(frozen=True)
class BuilderNode:
    id: str
    name: str
    memory_free: int


@dataclass(frozen=True)
class BuilderChoice:
    """The chosen node, or None with why no builder node was chosen (None when there is none)."""

    node: BuilderNode | None
    passed_over: str | None = None


def builder_nodes(client: Any) -> list[dict[str, Any]]:
    """The swarm's nodes labelled as builders (their Engine API attributes)."""
    return [
        node.attrs
        for node in client.nodes.list()
        if ((node.attrs.get("Spec") or {}).get("Labels") or {}).get(ROLE_LABEL) == BUILDER_ROLE
    ]


def choose_builder_node(
    client: Any,
    redis_client: Any,
    memory_bytes: int,
    building: Mapping[str, int] | None = None,
    labelled: list[dict[str, Any]] | None = None,
) -> BuilderChoice:
    """The builder node for a build that may use MEMORY_BYTES, from the manager's engine CLIENT;
    BUILDING is the memory the builds running on each node may use, by node id; LABELLED the
    builder nodes when the caller has just listed them."""
    labelled = builder_nodes(client) if labelled is None else labelled
    if not labelled:
        return BuilderChoice(None)
    reserved = reserved_per_node(client.api.tasks())
    candidates: list[BuilderNode] = []
    reasons: list[str] = []
    for attrs in labelled:
        node_id = str(attrs["ID"])
        name = str((attrs.get("Description") or {}).get("Hostname") or node_id[:12])
        state = (attrs.get("Status") or {}).get("State")
        availability = (attrs.get("Spec") or {}).get("Availability")
        if state != "ready" or availability != "active":
            reasons.append(f"{name} is {state if state != 'ready' else availability}")
            continue
        if not _listening(redis_client, node_id):
            reasons.append(f"{name}'s agent does not listen for builds")
            continue
        total = int(((attrs.get("Description") or {}).get("Resources") or {}).get("MemoryBytes", 0))
        taken = (reserved[node_id].memory_bytes if node_id in reserved else 0) + (building or {}).get(
            node_id, 0
        )
        free = max(0, total - taken)
        if free < memory_bytes:
            reasons.append(f"{name} has {free >> 20} MB free")
            continue
        candidates.append(BuilderNode(id=node_id, name=name, memory_free=free))
    if not candidates:
        return BuilderChoice(None, passed_over="; ".join(reasons))
    return BuilderChoice(max(candidates, key=lambda node: (node.memory_free, node.name)))


def _listening(redis_client: Any, node_id: str) -> bool:
    channel = wire.requests_channel(node_id)
    return any(count > 0 for _, count in redis_client.pubsub_numsub(channel))
