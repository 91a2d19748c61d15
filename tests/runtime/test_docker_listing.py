"""Listing dynos on Docker costs one API call for a steady fleet, and still sees every state change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import pytest

from tests.utils.busybox_dynos import WEB, Apps, make_spec
from wharf.platform.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.e2e


class CountedInspects:
    """Counts the container inspects the runtime's Docker client makes."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.calls = 0
        self._inspect = client.api.inspect_container
        client.api.inspect_container = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._inspect(*args, **kwargs)

    def since(self, before: int) -> int:
        return self.calls - before


@pytest.fixture
def counted_runtime(test_image: str) -> Iterator[tuple[DockerRuntime, CountedInspects]]:
    client = docker.from_env()
    yield DockerRuntime(client), CountedInspects(client)
    client.close()


def test_a_steady_fleet_lists_without_inspecting_each_dyno(
    counted_runtime: tuple[DockerRuntime, CountedInspects],
) -> None:
    runtime, inspects = counted_runtime
    apps = Apps(runtime)
    try:
        app = apps.new()
        started = [runtime.start_dyno(make_spec(app, WEB, number=n)) for n in (1, 2, 3)]

        assert {d.id for d in runtime.list_dynos(app)} == {d.id for d in started}
        before = inspects.calls
        for _ in range(3):
            listed = runtime.list_dynos(app)
            assert all(d.running and d.address is not None for d in listed)
        assert inspects.since(before) == 0

        runtime.stop_dyno(started[0].id, timeout=1)
        before = inspects.calls
        by_id = {d.id: d for d in runtime.list_dynos(app)}
        assert not by_id[started[0].id].running
        assert by_id[started[0].id].exit_code is not None
        assert by_id[started[1].id].running and by_id[started[2].id].running
        assert inspects.since(before) == 1

        runtime.remove_dyno(started[1].id)
        assert {d.id for d in runtime.list_dynos(app)} == {started[0].id, started[2].id}
    finally:
        apps.cleanup()
