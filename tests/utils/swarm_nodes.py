"""A swarm's manager engine as a build's placement asks it (builds/builder_nodes.py): its nodes, and
all their tasks; listing the tasks may take a while, as it does on a busy swarm."""

from __future__ import annotations

import time
from typing import Any


class _Node:
    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs


class _Nodes:
    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self._nodes = nodes

    def list(self) -> list[_Node]:
        return [_Node(node) for node in self._nodes]


class _Tasks:
    def __init__(self, tasks: list[dict[str, Any]], seconds: float) -> None:
        self._tasks = tasks
        self._seconds = seconds

    def tasks(self) -> list[dict[str, Any]]:
        time.sleep(self._seconds)
        return self._tasks


class Swarm:
    """NODES, and TASKS whose listing takes LIST_SECONDS."""

    def __init__(
        self, nodes: list[dict[str, Any]], tasks: list[dict[str, Any]], list_seconds: float = 0.0
    ) -> None:
        self.nodes = _Nodes(nodes)
        self.api = _Tasks(tasks, list_seconds)


def builder_node(
    node_id: str, name: str, *, role: str | None = "builder", state: str = "ready", memory: int = 8 << 30
) -> dict[str, Any]:
    """A node's attributes as the Engine API lists them, labelled `wharf.role=ROLE`."""
    labels = {"wharf.role": role} if role else {}
    return {
        "ID": node_id,
        "Spec": {"Labels": labels, "Availability": "active"},
        "Status": {"State": state},
        "Description": {"Hostname": name, "Resources": {"MemoryBytes": memory}},
    }
