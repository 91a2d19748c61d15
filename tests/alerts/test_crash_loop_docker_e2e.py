"""The crash-loop alert on real Docker: a busybox web dyno that answers, then exits, again and again."""

from __future__ import annotations

import time

import pytest

from tests.alerts.test_crash_loop_delivery import crash_loop_scenario
from tests.scheduler.test_scheduler_docker import docker_world
from tests.utils.busybox_dynos import TEST_IMAGE
from tests.utils.scheduler_world import World
from wharf.platform.scheduler.dynos import restarts_of

pytestmark = pytest.mark.e2e
__all__ = ["docker_world"]
# Serves long enough for the deploy's health check, then exits 2: a crash loop once it is live.
SERVES_THEN_CRASHES = "busybox httpd -p $PORT -h /www; sleep 4; exit 2"


def _loop_until(world: World, app: str, restarts: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(restarts_of(d) >= restarts for d in world.dynos(app)):
        assert time.monotonic() < deadline, f"no crash loop: {world.dynos(app)}"
        world.scheduler.reconcile_once()
        time.sleep(0.2)


def test_a_real_crash_looping_dyno_fires_and_a_fix_resolves(docker_world: World) -> None:
    world = docker_world
    app = world.new_app()
    world.release(app, {"web": SERVES_THEN_CRASHES}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    crash_loop_scenario(world, app, lambda: _loop_until(world, app, restarts=3))
