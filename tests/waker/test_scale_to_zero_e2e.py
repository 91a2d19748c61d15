"""Scale to zero on real Docker and nginx: an idle web type with --min 0 goes to 0 dynos, then a plain
GET through the router gets the app's own 200 body (the first request waits for the wake) and the
formation is 1 again; a websocket opened to a sleeping app wakes it and talks to the real dyno."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select
from websockets.sync.client import connect

from tests.alerts.fakes import FakeMetrics
from tests.alerts.test_autoscaler_formation import _autoscale, _web
from tests.scheduler.test_scheduler_docker import docker_world
from tests.utils.busybox_dynos import TEST_IMAGE, WEB
from tests.utils.network import free_port
from tests.utils.router import RouterHarness, running_router
from tests.utils.scheduler_world import World
from tests.utils.waker import STACK_IMAGE, WEBSOCKET_WEB
from wharf.platform.actions.autoscale import list_autoscale_events
from wharf.platform.autoscale.scaler import Autoscaler
from wharf.platform.autoscale.sleep import asleep_since, mark_asleep
from wharf.platform.db import session_factory, session_scope
from wharf.platform.models import App
from wharf.platform.routing import set_app_route_settings
from wharf.platform.waker.holding import HeldRequests
from wharf.platform.waker.server import Waker, WakerHooks, WakerServer
from wharf.platform.waker.service import routed_backend, wake_app

pytestmark = pytest.mark.e2e
__all__ = ["docker_world"]


@contextmanager
def asleep_behind_router(world: World, web: str, image: str) -> Iterator[tuple[str, RouterHarness, bytes]]:
    """A deployed app, answering through a router with a waker, then put to sleep by the autoscaler:
    its name, the router and what GET / answered while awake."""
    app = world.new_app()
    world.release(app, {"web": web}, image=image)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    set_app_route_settings(world.redis, app, hostnames=[], maintenance=False, tls=[])
    sessions = session_factory(world.database_url)
    hooks = WakerHooks(
        is_asleep=lambda name: asleep_since(world.redis, name) is not None,
        wake=lambda name: wake_app(sessions, world.redis, name),
        backend=lambda name: routed_backend(world.redis, name),
        woke=lambda name: None,
    )
    waker = Waker(hooks, HeldRequests(per_app=10, total=50), timeout=60, request_timeout=10)
    server = WakerServer(("127.0.0.1", free_port()), waker)
    stop = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def reconcile() -> None:
        while not stop.wait(0.2):
            world.scheduler.reconcile_once()

    reconciler = threading.Thread(target=reconcile, daemon=True)
    host = f"{app}.localhost"
    try:
        with running_router(world.redis, waker_upstream=f"127.0.0.1:{server.server_address[1]}") as router:
            router.wait_until(lambda: router.request(host).status == 200, timeout=30)
            awake_body = router.request(host).body
            _autoscale(world, app, min_dynos=0, max_dynos=2, p95_ms=500)
            scaler = Autoscaler(
                sessions=sessions,
                metrics=FakeMetrics(),
                idle_window=timedelta(seconds=2),
                on_asleep=lambda name, since: mark_asleep(world.redis, name, since),
            )
            scaler.scale_once()
            time.sleep(2.5)
            scaler.scale_once()
            assert _web(world, app) == 0
            reconciler.start()
            world.converge(lambda: world.running(app) == [] and world.backends(app) == [], timeout=60)
            router.wait_until(
                lambda: router.applied_generation() >= int(world.redis.get("wharf:routes:generation") or 0)
            )
            yield app, router, awake_body
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_an_idle_app_sleeps_and_a_plain_get_wakes_it(docker_world: World) -> None:
    world = docker_world
    with asleep_behind_router(world, WEB, TEST_IMAGE) as (app, router, awake_body):
        started = time.monotonic()
        answer = router.request(f"{app}.localhost", timeout=60)
        wake_seconds = time.monotonic() - started
        print(f"wake time (first request through the router): {wake_seconds:.2f} s")
        assert answer.status == 200, answer.body
        assert answer.body == awake_body
        assert _web(world, app) == 1
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        events = [(e.from_quantity, e.to_quantity) for e in list_autoscale_events(session=session, app=row)]
    assert events == [(0, 1), (1, 0)]


def test_a_websocket_to_a_sleeping_app_wakes_it_and_talks_to_the_dyno(docker_world: World) -> None:
    world = docker_world
    with asleep_behind_router(world, WEBSOCKET_WEB, STACK_IMAGE) as (app, router, awake_body):
        assert awake_body == b"websocket dyno\n"
        port = router.settings.http_port
        uri = f"ws://{app}.localhost:{port}/"
        sock = socket.create_connection(("127.0.0.1", port))
        with connect(uri, sock=sock, proxy=None, compression=None, open_timeout=60) as ws:
            ws.send("hello")
            assert ws.recv(timeout=20) == "echo: hello"
            ws.send("and again")
            assert ws.recv(timeout=20) == "echo: and again"
        assert _web(world, app) == 1
