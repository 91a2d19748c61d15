"""Reading dynos and their events back from Swarm services and tasks (the engine's JSON, no calls).

One dyno is one service with one task (restart condition "none"), so a dyno's state is its task's:
a task that has not reached `running` yet is `starting`, a running one is `up`, and a finished one is
`exited` or `crashed` by its container's exit code. A task Swarm rejected before any container ran
(an image missing on its node, a network it could not join) has no exit code of its own:
it reads as crashed with EXIT_CODE_NOT_RUN, as `docker run` reports a container it could not start.

A task on a node that Swarm's dispatcher marked `down` (no heartbeat for a few periods: a dead engine,
host or link) keeps its last reported state, `running`, for as long as the node is gone, and with
restart condition "none" Swarm never replaces it: such a dyno reads as crashed with
EXIT_CODE_NODE_LOST from when the node went down, without an address, so that Wharf's scheduler takes
it out of routing and starts its slot again on the nodes that are left. A node in state `unknown`
(what a new leader calls every node until it hears from them) is not taken for lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from wharf.platform.docker_times import parse_docker_time
from wharf.platform.runtime.base import (
    LABEL_APP,
    LABEL_COMMAND,
    LABEL_DYNO,
    LABEL_PORT,
    LABEL_PROCESS_TYPE,
    LABEL_RELEASE,
    LABEL_SIZE,
    Dyno,
    DynoEvent,
    DynoState,
    EventAction,
    event_from_labels,
)

STARTING_STATES = frozenset(
    {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
)
RUNNING_STATE = "running"
# Every state after `running`: the task's container (if it ever ran) has ended.
TERMINAL_STATES = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})
EXIT_CODE_NOT_RUN = 125
# What a dyno on a node that is down reads as: its container may still run there, unreachable.
EXIT_CODE_NODE_LOST = 255
NODE_DOWN = "down"

Task = Mapping[str, Any]


def task_state(task: Task) -> str:
    return str((task.get("Status") or {}).get("State", "new"))


def is_terminal(task: Task) -> bool:
    return task_state(task) in TERMINAL_STATES


def container_id(task: Task) -> str | None:
    status = (task.get("Status") or {}).get("ContainerStatus") or {}
    return str(status["ContainerID"]) if status.get("ContainerID") else None


def exit_code(task: Task) -> int | None:
    """The container's exit code once the task has ended; EXIT_CODE_NOT_RUN when none ever ran."""
    if not is_terminal(task):
        return None
    status = (task.get("Status") or {}).get("ContainerStatus") or {}
    if container_id(task) is None or "ExitCode" not in status:
        return EXIT_CODE_NOT_RUN
    return int(status["ExitCode"])


def task_error(task: Task) -> str:
    return str((task.get("Status") or {}).get("Err") or "")


def node_lost_at(node: Mapping[str, Any] | None) -> datetime | None:
    """When Swarm marked the node down (its last update); None while the node is not down."""
    if node is None or str((node.get("Status") or {}).get("State", "")) != NODE_DOWN:
        return None
    return parse_docker_time(node.get("UpdatedAt")) or datetime.now(UTC)


def latest_task(tasks: list[Task]) -> Task | None:
    """The service's newest task (there is one per dyno; Swarm may keep an older one for a while)."""
    return max(tasks, key=lambda task: str(task.get("CreatedAt", "")), default=None)


def published_port(task: Task, target_port: int) -> int | None:
    """The node's host-mode port that reaches `target_port` in the task's container."""
    ports = ((task.get("Status") or {}).get("PortStatus") or {}).get("Ports") or []
    for port in ports:
        if int(port.get("TargetPort", 0)) == target_port and port.get("PublishedPort"):
            return int(port["PublishedPort"])
    return None


def task_node(task: Task | None) -> str | None:
    """The id of the node Swarm assigned the task to, once it did."""
    return str(task.get("NodeID") or "") or None if task is not None else None


def service_labels(service: Mapping[str, Any]) -> dict[str, str]:
    return dict((service.get("Spec") or {}).get("Labels") or {})


def dyno_from_task(
    service: Mapping[str, Any],
    task: Task | None,
    node_address: str | None,
    container: Mapping[str, Any] | None = None,
    *,
    lost_at: datetime | None = None,
) -> Dyno:
    """The dyno a service stands for; `container` is its container's inspect data where the node's
    engine is reachable (exact start/finish times and the OOM flag), else the task's times are used.
    `lost_at` is when the task's node went down (node_lost_at), for a node that is down."""
    labels = service_labels(service)
    state = task_state(task) if task is not None else "new"
    code = exit_code(task) if task is not None else None
    if lost_at is not None and task is not None and code is None:
        return _lost_dyno(dyno_from_task(service, task, None, container), lost_at)
    port = int(labels.get(LABEL_PORT, "0"))
    status = (task or {}).get("Status") or {}
    container_state = (container or {}).get("State") or {}
    started = parse_docker_time(container_state.get("StartedAt")) or _task_start(task)
    finished = parse_docker_time(container_state.get("FinishedAt")) or parse_docker_time(
        status.get("Timestamp")
    )
    published = published_port(task, port) if task is not None and state == RUNNING_STATE else None
    return Dyno(
        id=str(service["ID"]),
        app=labels[LABEL_APP],
        process_type=labels[LABEL_PROCESS_TYPE],
        number=int(labels[LABEL_DYNO]),
        release=int(labels[LABEL_RELEASE]),
        state=_dyno_state(state, code),
        command=labels.get(LABEL_COMMAND, ""),
        size=labels.get(LABEL_SIZE, ""),
        started_at=started,
        finished_at=finished if code is not None else None,
        exit_code=code,
        address=(node_address, published) if node_address and published else None,
        labels=labels,
        oom_killed=bool(container_state.get("OOMKilled")),
        node=task_node(task),
    )


def _lost_dyno(last_seen: Dyno, lost_at: datetime) -> Dyno:
    return dataclasses.replace(
        last_seen,
        state=DynoState.CRASHED,
        exit_code=EXIT_CODE_NODE_LOST,
        finished_at=lost_at,
        address=None,
    )


def _task_start(task: Task | None) -> datetime | None:
    if task is None or container_id(task) is None:
        return None
    status = task.get("Status") or {}
    if task_state(task) == RUNNING_STATE:
        return parse_docker_time(status.get("Timestamp"))
    return parse_docker_time(task.get("CreatedAt"))


def _dyno_state(state: str, code: int | None) -> DynoState:
    if code is not None:
        return DynoState.after_exit(code)
    if state == RUNNING_STATE:
        return DynoState.UP
    return DynoState.STARTING


def task_events(
    task: Task, labels: Mapping[str, str], dyno_id: str, since: float, *, lost_at: datetime | None = None
) -> list[DynoEvent]:
    """The start and die a task shows since `since` (a Unix time), in order; none for a task whose
    container never ran. A task's start counts from when it became running (from its creation once
    it has ended, since Swarm keeps only the latest state's time). On a node that is down (`lost_at`,
    see node_lost_at) a task still running dies with EXIT_CODE_NODE_LOST when the node went down."""
    if container_id(task) is None or task_state(task) in STARTING_STATES:
        return []
    events = []
    started = _task_start(task)
    if started is not None and started.timestamp() >= since:
        events.append(event_from_labels(EventAction.START, dyno_id, labels, started.timestamp(), None))
    code = exit_code(task)
    ended = parse_docker_time((task.get("Status") or {}).get("Timestamp"))
    if code is None and lost_at is not None:
        code, ended = EXIT_CODE_NODE_LOST, lost_at
    if code is not None and ended is not None and ended.timestamp() >= since:
        events.append(event_from_labels(EventAction.DIE, dyno_id, labels, ended.timestamp(), code))
    return events
