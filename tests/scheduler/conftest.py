"""Fixtures: the scheduler on the in-memory runtime, against a real database and a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.utils.busybox_dynos import fake_program_for
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.loop import Scheduler

FAST = SchedulerOptions(
    resync_seconds=0.5,
    boot_timeout=3.0,
    stop_timeout=1.0,
    drain_seconds=0.0,
    probe_interval=0.05,
    launcher=(),
)


@pytest.fixture
def world(database_url: str, redis_client: redis.Redis[bytes]) -> Iterator[World]:
    runtime = FakeRuntime(fake_program_for)
    scheduler = Scheduler(
        runtime=runtime, client=redis_client, database_url=database_url, cipher=CIPHER, options=FAST
    )
    world = World(database_url=database_url, redis=redis_client, runtime=runtime, scheduler=scheduler)
    yield world
    world.close()
    for dyno in runtime.list_dynos():
        runtime.remove_dyno(dyno.id)
