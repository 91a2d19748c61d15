"""Reading Swarm tasks as dynos and events, and building a dyno's service, from the engine's JSON alone."""

from __future__ import annotations

from typing import Any

from tests.utils.busybox_dynos import WEB, make_spec
from wharf.platform.runtime import DynoState, EventAction, size_named
from wharf.platform.runtime.swarm_specs import cpu_reservation, service_options
from wharf.platform.runtime.swarm_tasks import (
    EXIT_CODE_NODE_LOST,
    EXIT_CODE_NOT_RUN,
    dyno_from_task,
    node_lost_at,
    task_events,
)

LABELS = {
    "wharf.app": "shop",
    "wharf.process-type": "web",
    "wharf.dyno": "1",
    "wharf.release": "3",
    "wharf.managed": "1",
    "wharf.port": "5000",
}
SERVICE = {"ID": "svc1", "Spec": {"Labels": LABELS}}


def task(
    state: str, *, exit_code: int | None = None, container: bool = True, **status: Any
) -> dict[str, Any]:
    container_status = {"ContainerID": "c1", "ExitCode": exit_code or 0} if container else {}
    return {
        "ID": "t1",
        "CreatedAt": "2026-12-03T09:00:00.000000Z",
        "Status": {"State": state, "Timestamp": "2026-12-03T09:00:05.5Z", "ContainerStatus": container_status}
        | status,
    }


def test_a_running_task_is_an_up_dyno_at_its_nodes_address_and_published_port() -> None:
    ports = {"Ports": [{"TargetPort": 5000, "PublishedPort": 30001, "PublishMode": "host"}]}

    dyno = dyno_from_task(SERVICE, task("running", PortStatus=ports), "10.1.0.2")

    assert (dyno.state, dyno.address, dyno.exit_code, dyno.name) == (
        DynoState.UP,
        ("10.1.0.2", 30001),
        None,
        "shop.web.1",
    )


def test_ended_tasks_read_as_exited_or_crashed_by_exit_code_and_a_rejected_one_as_not_run() -> None:
    assert dyno_from_task(SERVICE, task("complete", exit_code=0), "n").state is DynoState.EXITED
    failed = dyno_from_task(SERVICE, task("failed", exit_code=2), "n")
    assert (failed.state, failed.exit_code, failed.address) == (DynoState.CRASHED, 2, None)
    rejected = dyno_from_task(SERVICE, task("rejected", container=False, Err="No such image"), "n")
    assert (rejected.state, rejected.exit_code) == (DynoState.CRASHED, EXIT_CODE_NOT_RUN)
    assert dyno_from_task(SERVICE, task("preparing", container=False), "n").state is DynoState.STARTING


def test_a_running_task_on_a_down_node_is_a_crashed_dyno_without_an_address_since_it_went_down() -> None:
    ports = {"Ports": [{"TargetPort": 5000, "PublishedPort": 30001, "PublishMode": "host"}]}
    down = {"ID": "n2", "UpdatedAt": "2026-12-03T09:01:00.25Z", "Status": {"State": "down"}}

    lost = dyno_from_task(SERVICE, task("running", PortStatus=ports), "10.1.0.2", lost_at=node_lost_at(down))

    assert (lost.state, lost.exit_code, lost.address) == (DynoState.CRASHED, EXIT_CODE_NODE_LOST, None)
    assert lost.finished_at is not None and lost.finished_at.isoformat() == "2026-12-03T09:01:00.250000+00:00"
    assert lost.started_at is not None and lost.started_at.isoformat() == "2026-12-03T09:00:05.500000+00:00"


def test_only_a_down_node_loses_its_tasks_and_a_task_that_had_ended_keeps_its_exit_code() -> None:
    for state in ("ready", "unknown", "disconnected"):
        assert node_lost_at({"ID": "n2", "Status": {"State": state}}) is None
    down = node_lost_at({"ID": "n2", "UpdatedAt": "2026-12-03T09:01:00Z", "Status": {"State": "down"}})

    failed = dyno_from_task(SERVICE, task("failed", exit_code=2), "n", lost_at=down)

    assert (failed.state, failed.exit_code) == (DynoState.CRASHED, 2)


def test_an_ended_task_shows_its_start_then_its_die_and_only_what_came_after_since() -> None:
    ended = task("failed", exit_code=2)
    created = 1796288400.0  # 2026-12-03T09:00:00Z

    events = task_events(ended, LABELS, "svc1", since=created - 1)
    assert [(e.action, e.exit_code, e.dyno_id) for e in events] == [
        (EventAction.START, None, "svc1"),
        (EventAction.DIE, 2, "svc1"),
    ]
    assert [e.action for e in task_events(ended, LABELS, "svc1", since=created + 1)] == [EventAction.DIE]
    assert task_events(ended, LABELS, "svc1", since=created + 10) == []
    assert task_events(task("rejected", container=False), LABELS, "svc1", since=0) == []


def test_a_running_task_dies_with_its_node_when_the_node_goes_down() -> None:
    running = task("running")
    down = node_lost_at({"ID": "n2", "UpdatedAt": "2026-12-03T09:01:00Z", "Status": {"State": "down"}})
    became_running = 1796288405.5  # 2026-12-03T09:00:05.5Z

    events = task_events(running, LABELS, "svc1", since=became_running, lost_at=down)

    assert [(e.action, e.exit_code, e.time) for e in events] == [
        (EventAction.START, None, became_running),
        (EventAction.DIE, EXIT_CODE_NODE_LOST, became_running + 54.5),
    ]
    assert [e.action for e in task_events(running, LABELS, "svc1", since=0)] == [EventAction.START]


def test_a_dyno_reserves_its_memory_and_its_cpu_share_and_is_limited_to_its_size() -> None:
    size = size_named("basic")
    options = service_options(
        make_spec("shop", WEB, labels={"wharf.placement.role": "node.labels.wharf.role==web"}),
        user="1000:1000",
        labels=LABELS,
        network_id="net1",
        max_nano_cpus=2 * 10**9,
    )

    template = options["task_template"]
    assert template["Resources"]["Limits"] == {
        "NanoCPUs": size.nano_cpus,
        "MemoryBytes": size.memory_bytes,
        "Pids": size.pids_limit,
    }
    assert template["Resources"]["Reservations"] == {
        "NanoCPUs": cpu_reservation(size.cpu_shares),
        "MemoryBytes": size.memory_bytes,
    }
    assert cpu_reservation(size.cpu_shares) == 250_000_000
    assert template["RestartPolicy"]["Condition"] == "none"
    assert template["Placement"]["Constraints"] == ["node.labels.wharf.role==web"]
    assert template["ContainerSpec"]["CapabilityDrop"] == ["ALL"]
    assert options["endpoint_spec"]["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 5000, "PublishMode": "host"}
    ]


def test_a_dyno_sends_statsd_to_its_own_node_by_a_name_its_hosts_file_gives() -> None:
    spec = make_spec("shop", WEB, env={"STATSD_HOST": "forged.example"})
    options = service_options(
        spec, user="1000:1000", labels=LABELS, network_id="net1", max_nano_cpus=10**9, statsd_port=8126
    )
    container = options["task_template"]["ContainerSpec"]
    assert "STATSD_HOST=statsd.wharf.internal" in container["Env"]
    assert "STATSD_PORT=8126" in container["Env"]
    assert "STATSD_HOST=forged.example" not in container["Env"], "the platform's value wins"
    assert container["Hosts"] == ["host-gateway statsd.wharf.internal"]

    without = service_options(spec, user="1000:1000", labels=LABELS, network_id="net1", max_nano_cpus=10**9)
    assert "Hosts" not in without["task_template"]["ContainerSpec"]
    assert not any(e.startswith("STATSD_PORT=") for e in without["task_template"]["ContainerSpec"]["Env"])
