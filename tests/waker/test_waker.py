"""The waker on loopback with fake control-plane hooks and a real backend: it wakes a sleeping app once
for many requests, passes each request on exactly once, keeps its bounds, and never wakes an app that
is not asleep."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wharf.platform.waker.holding import HeldRequests
from wharf.platform.waker.server import APP_HEADER, Waker, WakerHooks, WakerServer
from wharf.router.render import RouterPaths, RouterSettings, render_nginx_config
from wharf.router.routes import AppRoute, RouteTable


class Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, body))
        text = f"hello from the app: {self.command} {body.decode()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = _answer


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        super().__init__(("127.0.0.1", 0), Backend)


@dataclass
class Control:
    """A fake control plane: asleep apps, and the dyno that comes up DELAY seconds after a wake."""

    backend: tuple[str, int]
    asleep: set[str] = field(default_factory=set)
    delay: float = 0.3
    woken_at: dict[str, float] = field(default_factory=dict)
    wakes: list[str] = field(default_factory=list)

    def wake(self, app: str) -> None:
        self.wakes.append(app)
        self.woken_at[app] = time.monotonic()

    def routed(self, app: str) -> tuple[str, int] | None:
        woken = self.woken_at.get(app)
        return self.backend if woken is not None and time.monotonic() - woken >= self.delay else None


@contextmanager
def running(control: Control, *, per_app: int = 50, total: int = 500, timeout: float = 5.0) -> Iterator[int]:
    hooks = WakerHooks(is_asleep=lambda app: app in control.asleep, wake=control.wake, backend=control.routed)
    waker = Waker(hooks, HeldRequests(per_app=per_app, total=total), timeout=timeout, request_timeout=5)
    server = WakerServer(("127.0.0.1", 0), waker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def app_backend() -> Iterator[CountingServer]:
    server = CountingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def request(port: int, app: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request(method, "/", body=body, headers={APP_HEADER: app})
    response = connection.getresponse()
    return response.status, response.read().decode()


def test_many_requests_wake_a_sleeping_app_once_and_each_gets_the_apps_answer() -> None:
    with app_backend() as backend:
        control = Control(backend=("127.0.0.1", backend.server_address[1]), asleep={"sleepy"})
        with running(control) as port:
            results: list[tuple[int, str]] = []
            threads = [
                threading.Thread(target=lambda: results.append(request(port, "sleepy"))) for _ in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    assert control.wakes == ["sleepy"]
    assert results == [(200, "hello from the app: GET ")] * 8
    assert len(backend.seen) == 8


def test_a_post_is_sent_to_the_dyno_exactly_once() -> None:
    with app_backend() as backend:
        control = Control(backend=("127.0.0.1", backend.server_address[1]), asleep={"sleepy"})
        with running(control) as port:
            assert request(port, "sleepy", "POST", b"order=1") == (200, "hello from the app: POST order=1")
    assert backend.seen == [("POST", b"order=1")]


def test_an_app_that_is_not_asleep_is_never_woken() -> None:
    control = Control(backend=("127.0.0.1", 9))
    with running(control) as port:
        status, text = request(port, "awake")
        assert status == 503 and "no web dynos" in text
        assert request(port, "Not An App")[0] == 400
    assert control.wakes == []


def test_the_wait_is_bounded() -> None:
    control = Control(backend=("127.0.0.1", 9), asleep={"slow"}, delay=60)
    with running(control, timeout=0.5) as port:
        started = time.monotonic()
        status, text = request(port, "slow")
    assert status == 503 and "still waking up" in text
    assert time.monotonic() - started < 3


def test_held_requests_are_bounded_per_app_and_in_total() -> None:
    held = HeldRequests(per_app=2, total=3)
    with held.hold("a") as first, held.hold("a") as second, held.hold("a") as third:
        assert (first, second, third) == (True, True, False)
        with held.hold("b") as other, held.hold("c") as over:
            assert other is True and over is False
            assert held.count() == 3
    assert held.count() == 0


def test_over_the_bound_the_waker_answers_503_at_once() -> None:
    control = Control(backend=("127.0.0.1", 9), asleep={"busy"}, delay=60)
    with running(control, per_app=1, timeout=3) as port:
        waiting = threading.Thread(target=lambda: request(port, "busy"))
        waiting.start()
        time.sleep(0.3)
        started = time.monotonic()
        status, text = request(port, "busy")
        assert status == 503 and "too many requests" in text
        assert time.monotonic() - started < 1
        waiting.join()


def test_the_router_sends_only_a_sleeping_app_to_the_waker(tmp_path: object) -> None:
    settings = RouterSettings(waker_upstream="127.0.0.1:5090")
    table = RouteTable(generation=1, apps=(AppRoute(app="sleepy", asleep=True), AppRoute(app="broken")))
    config = render_nginx_config(table, settings, RouterPaths(tmp_path), instance="0123abcd")  # type: ignore[arg-type]
    sleepy, broken = config.split("set $wharf_app sleepy;")[1], config.split("set $wharf_app broken;")[1]
    assert "proxy_pass http://127.0.0.1:5090;" in sleepy.split("set $wharf_app")[0]
    assert "proxy_set_header X-Wharf-App sleepy;" in sleepy.split("set $wharf_app")[0]
    assert (
        "5090" not in broken.split("set $wharf_app")[0]
        and "no_web_dynos" in broken.split("set $wharf_app")[0]
    )
