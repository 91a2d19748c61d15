"""A swarm shared with other stacks and other Wharf installations: listing this installation's dynos,
and polling their events, reads the tasks of its own services and of no other service."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker import types

from tests.utils.busybox_dynos import TEST_IMAGE, TRAPS_TERM, Apps, make_spec
from tests.utils.test_host import DockerTestHost
from wharf.platform.runtime import DynoState
from wharf.platform.runtime.swarm_runtime import SwarmRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


@pytest.fixture
def other_stack(swarm_host: DockerTestHost) -> Iterator[str]:
    """A service of another stack on the same swarm, its task running; its id."""
    client = swarm_host.client()
    container = types.ContainerSpec(TEST_IMAGE, ["sh", "-c", TRAPS_TERM])
    service_id = str(
        client.api.create_service(
            types.TaskTemplate(container, restart_policy=types.RestartPolicy(condition="none")),
            name=f"other-stack-{secrets.token_hex(3)}",
            labels={"com.docker.stack.namespace": "other"},
        )["ID"]
    )
    try:
        deadline = time.monotonic() + 60
        while not any(
            t["Status"]["State"] == "running" for t in client.api.tasks(filters={"service": service_id})
        ):
            assert time.monotonic() < deadline, "the other stack's task never ran"
            time.sleep(0.2)
        yield service_id
    finally:
        client.api.remove_service(service_id)
        client.close()


class _TasksRead:
    """Wraps a client's task list: every task it returned, so a test sees what the runtime read."""

    def __init__(self, client: docker.DockerClient) -> None:
        self._tasks = client.api.tasks
        self.services: set[str] = set()

    def __call__(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = self._tasks(*args, **kwargs)
        self.services.update(str(task["ServiceID"]) for task in tasks)
        return tasks


def test_listing_dynos_and_their_events_reads_no_task_of_another_installation_or_stack(
    swarm_host: DockerTestHost, other_stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours_client, theirs_client = swarm_host.client(), swarm_host.client()
    ours = SwarmRuntime(ours_client, installation=f"ours-{secrets.token_hex(3)}")
    theirs = SwarmRuntime(theirs_client, installation=f"theirs-{secrets.token_hex(3)}")
    our_apps, their_apps = Apps(ours), Apps(theirs)
    try:
        mine = ours.start_dyno(make_spec(our_apps.new(), TRAPS_TERM))
        foreign = theirs.start_dyno(make_spec(their_apps.new(), TRAPS_TERM))
        assert foreign.state == DynoState.UP
        read = _TasksRead(ours_client)
        monkeypatch.setattr(ours_client.api, "tasks", read)

        listed = ours.list_dynos()
        assert [(dyno.id, dyno.state) for dyno in listed] == [(mine.id, DynoState.UP)]
        assert ours.list_dynos(app=mine.app, process_type="web") == listed
        started = {event.dyno_id for event in ours.events(since=0, timeout=0.5) if event.action == "start"}
        assert started == {mine.id}

        assert read.services == {mine.id}, "only this installation's tasks were read"
        assert foreign.id not in read.services and other_stack not in read.services
    finally:
        monkeypatch.undo()
        our_apps.cleanup()
        their_apps.cleanup()
        ours_client.close()
        theirs_client.close()
