"""The waker on loopback with fake control-plane hooks and a real backend: it wakes a sleeping app once
for many requests, passes each request on exactly once, keeps its bounds, and never wakes an app that
is not asleep."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.utils.waker import (
    FIRST,
    SECOND,
    Control,
    echo_websocket_dyno,
    read_streamed,
    running,
    streaming_backend,
)
from wharf.platform.waker import server
from wharf.platform.waker.holding import HeldRequests
from wharf.platform.waker.server import APP_HEADER
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


def test_a_dyno_that_does_not_boot_gives_every_held_request_the_h20_page() -> None:
    control = Control(backend=("127.0.0.1", 9), asleep={"slow"}, delay=60)
    answers: list[http.client.HTTPResponse] = []
    with running(control, timeout=0.5) as port:

        def held(number: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            connection.request("GET", "/", headers={APP_HEADER: "slow", "X-Request-Id": f"held-{number}"})
            answer = connection.getresponse()
            answer.read()
            answers.append(answer)

        threads = [threading.Thread(target=held, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert control.wakes == ["slow"]
    assert sorted(a.status for a in answers) == [503, 503, 503]
    for answer in answers:
        assert answer.getheader("Content-Type") == "text/html; charset=utf-8"
        assert answer.getheader("X-Wharf-Error") == "H20"
        assert answer.getheader("Retry-After") == "5"


def test_the_h20_page_says_what_happened_with_the_request_id() -> None:
    control = Control(backend=("127.0.0.1", 9), asleep={"slow"}, delay=60)
    with running(control, timeout=0.5) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        connection.request("GET", "/", headers={APP_HEADER: "slow", "X-Request-Id": "req-<b>1</b>"})
        page = connection.getresponse().read().decode()
    assert "<title>App boot timeout</title>" in page
    assert "did not come up within 0.5 seconds" in page
    assert "Request ID: req-&lt;b&gt;1&lt;/b&gt;" in page
    assert "$wharf_" not in page


def chunked_post(port: int, app: str, chunks: list[bytes]) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request("POST", "/", body=iter(chunks), headers={APP_HEADER: app}, encode_chunked=True)
    response = connection.getresponse()
    return response.status, response.read().decode()


def test_a_chunked_post_to_a_sleeping_app_reaches_the_dyno_once() -> None:
    with app_backend() as backend:
        control = Control(backend=("127.0.0.1", backend.server_address[1]), asleep={"sleepy"})
        with running(control) as port:
            status, text = chunked_post(port, "sleepy", [b"order=", b"1&", b"item=42"])
    assert (status, text) == (200, "hello from the app: POST order=1&item=42")
    assert backend.seen == [("POST", b"order=1&item=42")]


def test_a_chunked_body_over_the_cap_gets_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "MAX_BODY", 2 * 1024 * 1024)
    piece = b"x" * (512 * 1024)
    with app_backend() as backend:
        control = Control(backend=("127.0.0.1", backend.server_address[1]), asleep={"sleepy"})
        with running(control) as port:
            assert chunked_post(port, "sleepy", [piece] * 3)[0] == 200
            with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
                # Four chunks fit; the size line of the fifth passes the cap, and nothing more is sent.
                head = f"POST / HTTP/1.1\r\nHost: waker\r\n{APP_HEADER}: sleepy\r\n"
                raw.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
                raw.sendall(b"80000\r\n" + piece + b"\r\n")
                for _ in range(3):
                    raw.sendall(b"80000\r\n" + piece + b"\r\n")
                raw.sendall(b"80000\r\n")
                answer = raw.makefile("rb").read().decode()
    assert answer.startswith("HTTP/1.1 413 ")
    assert "carries at most 2 MB" in answer
    assert backend.seen == [("POST", piece * 3)]


def test_a_streamed_answer_reaches_the_client_as_the_dyno_sends_it() -> None:
    with streaming_backend() as (backend, client_got_first):
        control = Control(backend=backend, asleep={"sleepy"})
        with running(control) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            answer = read_streamed(connection, {APP_HEADER: "sleepy"}, client_got_first)
    assert answer == (200, FIRST, SECOND)


def test_a_websocket_to_a_sleeping_app_is_relayed_both_ways_once_woken() -> None:
    with echo_websocket_dyno() as dyno:
        control = Control(backend=dyno.address, asleep={"sleepy"})
        with running(control) as port:
            with connect(f"ws://127.0.0.1:{port}/chat", additional_headers={APP_HEADER: "sleepy"}) as ws:
                ws.send("hello")
                assert ws.recv(timeout=10) == "echo /chat: hello"
                ws.send(b"\x00" * 200_000)
                assert ws.recv(timeout=10) == b"\x00" * 200_000
            assert dyno.closed.wait(10), "the client's close did not reach the dyno"
            with connect(f"ws://127.0.0.1:{port}/", additional_headers={APP_HEADER: "sleepy"}) as ws:
                ws.send("bye")
                assert ws.recv(timeout=10) == "echo /: bye"
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=10)
    assert control.wakes == ["sleepy"]


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
