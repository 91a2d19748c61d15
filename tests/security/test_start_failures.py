"""A deploy Docker cannot start (no address pool left) fails the push with a clear message, and the
scheduler backs off instead of retrying in a hot loop. The fake runtime injects Docker's error."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from tests.utils.busybox_dynos import fake_program_for
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.progress import BuildEnd, follow_deploy
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.loop import Scheduler

POOL_ERROR = (
    "500 Server Error for http+docker://localhost/v1.41/networks/create: Internal Server Error "
    '("could not find an available, non-overlapping IPv4 address pool among the defaults to assign '
    'to the network")'
)
OPTIONS = SchedulerOptions(
    resync_seconds=0.5,
    boot_timeout=3.0,
    stop_timeout=1.0,
    drain_seconds=0.0,
    probe_interval=0.05,
    launcher=(),
)


class ExhaustedPools(FakeRuntime):
    """Docker with every default address pool in use: no new network, so no dyno on one."""

    def __init__(self) -> None:
        super().__init__(fake_program_for)
        self.exhausted = False
        self.attempts: Counter[str] = Counter()

    def ensure_network(self, app: str) -> str:
        if self.exhausted:
            self.attempts[app] += 1
            raise RuntimeError(POOL_ERROR)
        return super().ensure_network(app)


@pytest.fixture
def exhausted(database_url: str, redis_client: redis.Redis[bytes]) -> Iterator[tuple[World, ExhaustedPools]]:
    runtime = ExhaustedPools()
    scheduler = Scheduler(
        runtime=runtime, client=redis_client, database_url=database_url, cipher=CIPHER, options=OPTIONS
    )
    world = World(database_url=database_url, redis=redis_client, runtime=runtime, scheduler=scheduler)
    yield world, runtime
    world.close()
    for dyno in runtime.list_dynos():
        runtime.remove_dyno(dyno.id)


@contextmanager
def scheduler_running(world: World) -> Iterator[None]:
    stop = threading.Event()
    loop = threading.Thread(target=world.scheduler.run, args=(stop,), daemon=True)
    loop.start()
    try:
        yield
    finally:
        stop.set()
        loop.join(timeout=10)
        time.sleep(1.2)  # the wake listener notices `stop` within a second


def test_a_deploy_without_an_address_pool_fails_the_push_at_once(
    exhausted: tuple[World, ExhaustedPools],
) -> None:
    world, runtime = exhausted
    runtime.exhausted = True
    app = world.new_app()
    version = world.release(app, {"web": "serve"}, image="busybox")
    started = time.monotonic()
    with scheduler_running(world):
        outcome = list(follow_deploy(world.redis, app, version, idle_timeout=30))
        finished_in = time.monotonic() - started
        # The failed release is not retried over and over.
        attempts = runtime.attempts[app]
        time.sleep(2)
        assert runtime.attempts[app] - attempts <= 1
    end = outcome[-1]
    assert isinstance(end, BuildEnd)
    assert finished_in < 15
    assert end.status == "failed"
    assert "address range" in end.message and "default-address-pools" in end.message
    assert world.app_row(app)[1][version] == "failed"


def test_dynos_that_cannot_start_back_off_exponentially(exhausted: tuple[World, ExhaustedPools]) -> None:
    world, runtime = exhausted
    app = world.new_app()
    world.release(app, {"web": "serve"}, image="busybox")
    assert world.deploy(app)[0] == "succeeded"
    # The host restarted: the dynos and the app's network are gone, and Docker has no pool for a new one.
    for dyno in runtime.list_dynos(app):
        runtime.stop_dyno(dyno.id, timeout=0)
        runtime.remove_dyno(dyno.id)
    runtime.remove_network(app)
    runtime.exhausted = True
    with scheduler_running(world):
        time.sleep(8)
    # A hot loop at the 0.05 s probe interval would try about 160 times; 1 + 2 + 4 s of back-off allow 4.
    assert 2 <= runtime.attempts[app] <= 5, runtime.attempts
    assert world.scheduler.fleet.start_backoff(app) > 0
