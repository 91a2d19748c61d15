"""What is taken on each node of a swarm: the CPU and memory its live tasks reserve (the rest is what
`wharfd nodes` shows as free, and what Swarm places services into) and the memory the attached
one-offs hold there, which Swarm does not know of (they are containers, not tasks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wharf.platform.runtime.base import Dyno, size_named

# Tasks in these states hold (or are about to hold) a place on their node.
LIVE_TASK_STATES = frozenset(
    {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}
)


def is_live(task: Mapping[str, Any]) -> bool:
    return (task.get("Status") or {}).get("State") in LIVE_TASK_STATES


@dataclass(frozen=True)
class Reserved:
    nano_cpus: int = 0
    memory_bytes: int = 0


def reserved_per_node(tasks: Iterable[Mapping[str, Any]]) -> dict[str, Reserved]:
    """What the live ones of TASKS reserve on each node, by node id."""
    cpus: dict[str, int] = {}
    memory: dict[str, int] = {}
    for task in tasks:
        node = task.get("NodeID")
        if not node or not is_live(task):
            continue
        reservations = ((task.get("Spec") or {}).get("Resources") or {}).get("Reservations") or {}
        cpus[node] = cpus.get(node, 0) + int(reservations.get("NanoCPUs", 0))
        memory[node] = memory.get(node, 0) + int(reservations.get("MemoryBytes", 0))
    return {node: Reserved(cpus[node], memory[node]) for node in cpus}


def oneoff_memory_per_node(oneoffs: Iterable[Dyno], own_node: str) -> dict[str, int]:
    """The memory the running ones of the attached one-offs hold (their size's), by node id; one
    without a node runs on the control plane's own node."""
    held: dict[str, int] = {}
    for dyno in oneoffs:
        if dyno.exit_code is not None:
            continue
        node = dyno.node or own_node
        try:
            memory = size_named(dyno.size).memory_bytes
        except ValueError:
            continue
        held[node] = held.get(node, 0) + memory
    return held


@dataclass(frozen=True)
class NodeLoad:
    """What runs on each node, by node id: the installation's dyno tasks, and the memory that is
    taken (tasks' reservations and attached one-offs)."""

    dynos: Mapping[str, int]
    memory_taken: Mapping[str, int]

    def memory_free(self, node_id: str, memory_bytes: int) -> int:
        """What is left of a node's MEMORY_BYTES; never below 0."""
        return max(0, memory_bytes - self.memory_taken.get(node_id, 0))
