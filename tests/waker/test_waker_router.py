"""A sleeping app through a real nginx router and the waker (fake control-plane hooks, real dynos): the
H20 page and its router log line, a websocket relayed once the dyno is up, and a streamed answer."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.utils import waker
from tests.utils.router import RouterHarness, running_router
from tests.utils.waker import Control
from wharf.router.routes import AppRoute


@contextmanager
def sleeping_app_router(
    redis_client: redis.Redis[bytes], control: Control, *, timeout: float = 5.0
) -> Iterator[RouterHarness]:
    with (
        waker.running(control, timeout=timeout) as port,
        running_router(redis_client, waker_upstream=f"127.0.0.1:{port}") as router,
    ):
        router.publish(AppRoute(app="sleepy", asleep=True))
        yield router


def test_a_dyno_that_does_not_boot_answers_the_h20_page_and_logs_h20(
    redis_client: redis.Redis[bytes],
) -> None:
    control = Control(backend=("127.0.0.1", 9), asleep={"sleepy"}, delay=60)
    with sleeping_app_router(redis_client, control, timeout=0.5) as router:
        answer = router.request("sleepy.localhost", "/orders", headers={"X-Request-Id": "a" * 24})
        lines = router.router_lines("sleepy")
    assert answer.status == 503
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>App boot timeout</title>" in answer.text
    assert f"Request ID: {'a' * 24}" in answer.text
    assert "x-wharf-error" not in answer.headers
    assert lines[-1].startswith('at=error code=H20 desc="App boot timeout" method=GET path="/orders"')
    assert "status=503" in lines[-1]


def test_a_websocket_to_a_sleeping_app_wakes_it_and_is_relayed(redis_client: redis.Redis[bytes]) -> None:
    with waker.echo_websocket_dyno() as dyno:
        control = Control(backend=dyno.address, asleep={"sleepy"})
        with sleeping_app_router(redis_client, control) as router:
            port = router.settings.http_port
            uri = f"ws://sleepy.localhost:{port}/live"
            with connect(uri, sock=socket.create_connection(("127.0.0.1", port)), proxy=None) as ws:
                ws.send("hello")
                assert ws.recv(timeout=10) == "echo /live: hello"
                ws.send("again")
                assert ws.recv(timeout=10) == "echo /live: again"
            assert dyno.closed.wait(10), "the client's close did not reach the dyno"
            with connect(uri, sock=socket.create_connection(("127.0.0.1", port)), proxy=None) as ws:
                ws.send("bye")
                assert ws.recv(timeout=10) == "echo /live: bye"
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=10)
    assert control.wakes == ["sleepy"]


def test_a_woken_apps_streamed_answer_streams_through_the_router(redis_client: redis.Redis[bytes]) -> None:
    with waker.streaming_backend() as (backend, client_got_first):
        control = Control(backend=backend, asleep={"sleepy"})
        with sleeping_app_router(redis_client, control) as router:
            connection = http.client.HTTPConnection("127.0.0.1", router.settings.http_port, timeout=30)
            answer = waker.read_streamed(connection, {"Host": "sleepy.localhost"}, client_got_first)
    assert answer == (200, waker.FIRST, waker.SECOND)
