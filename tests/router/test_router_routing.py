"""Requests through a real nginx, programmed by the router, to real backend servers."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request
from collections import Counter

import pytest
import redis

from tests.utils.network import KeepaliveClient
from tests.utils.router import (
    frame,
    late_accepting_dyno,
    read_frame,
    running_dynos,
    running_router,
    unanswering_backend,
)
from wharf.router.routes import AppRoute, Backend

pytestmark = pytest.mark.e2e

# Heroku's rule for a request id the router accepts from a client; the ids it generates follow it too.
VALID_REQUEST_ID = r"[A-Za-z0-9+=/-]{20,200}"


def test_empty_route_table_answers_every_host_with_the_wharf_404_page(
    redis_client: redis.Redis[bytes],
) -> None:
    with running_router(redis_client) as router:
        for host in ("myapp.localhost", "www.example.com", "127.0.0.1"):
            answer = router.request(host)
            assert answer.status == 404
            assert "There is no app here" in answer.text
            assert "text/html" in answer.headers["content-type"]


def test_app_is_served_at_its_domain_and_its_custom_domains(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client, domain="apps.test") as router:
        router.publish(AppRoute(app="myapp", hostnames=("www.example.com",), backends=(dyno.backend,)))
        router.wait_for_backend("myapp.apps.test", "web.1")
        assert router.request("www.example.com", "/hello?x=1").json()["path"] == "/hello?x=1"
        assert router.request("WWW.Example.COM").status == 200
        assert router.request("myapp.localhost").status == 404
        assert router.request("other.apps.test").status == 404


def test_requests_are_balanced_over_every_web_dyno(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1", "web.2", "web.3") as dynos, running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=tuple(d.backend for d in dynos)))
        router.wait_for_backend("myapp.localhost", "web.1")
        served = Counter(router.request("myapp.localhost").json()["backend"] for _ in range(60))
        assert set(served) == {"web.1", "web.2", "web.3"}
        assert min(served.values()) >= 10


def test_a_get_to_a_dyno_that_never_answers_its_connect_is_served_by_another_dyno(
    redis_client: redis.Redis[bytes],
) -> None:
    """A dyno on a node that died: connects to it time out, and each GET goes on to a live dyno."""
    with (
        unanswering_backend() as gone,
        running_dynos("web.2") as (alive,),
        running_router(redis_client) as router,
    ):
        router.publish(AppRoute(app="myapp", backends=(Backend("web.1", "127.0.0.1", gone), alive.backend)))
        answers = [router.request("myapp.localhost", f"/n/{n}") for n in range(6)]
        assert [(a.status, a.json()["backend"]) for a in answers] == [(200, "web.2")] * 6


def test_a_dyno_whose_accept_queue_is_full_for_two_seconds_still_answers(
    redis_client: redis.Redis[bytes],
) -> None:
    """A burst beyond a dyno's backlog: the kernel drops SYNs and the client retransmits them (after
    1 s, then 3 s). The router waits for the connect as long as Heroku's does, and the app answers."""
    with running_router(redis_client) as router, late_accepting_dyno("web.1", after=2.0) as dyno:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        answer = router.request("myapp.localhost", "/")
        assert (answer.status, answer.json()["backend"]) == (200, "web.1")


def test_headers_reach_the_dyno_as_on_heroku(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        router.wait_for_backend("myapp.localhost", "web.1")
        before_ms = int(time.time() * 1000)
        headers = router.request("myapp.localhost", headers={"X-Forwarded-For": "203.0.113.7"}).json()[
            "headers"
        ]
        assert isinstance(headers, dict)
        assert headers["host"] == "myapp.localhost"
        assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
        assert headers["x-forwarded-proto"] == "http"
        assert headers["x-forwarded-port"] == str(router.settings.http_port)
        assert re.fullmatch(VALID_REQUEST_ID, headers["x-request-id"])
        start = re.fullmatch(r"t=([0-9]{13})", headers["x-request-start"])
        assert start and abs(int(start.group(1)) - before_ms) < 5000
        assert "connection" not in headers or headers["connection"].lower() != "close"


def test_generated_request_ids_are_unique_across_connections_workers_reloads_and_routers(
    redis_client: redis.Redis[bytes],
) -> None:
    def request_id(client: KeepaliveClient) -> str:
        status, body = client.get("myapp.localhost")
        assert status == 200
        value = json.loads(body)["headers"]["x-request-id"]
        assert isinstance(value, str) and re.fullmatch(VALID_REQUEST_ID, value), value
        return value

    seen: list[str] = []
    with running_dynos("web.1") as (dyno,):
        for _ in range(2):
            with running_router(redis_client, worker_processes=2) as router:
                route = AppRoute(app="myapp", backends=(dyno.backend,))
                for _ in range(2):
                    router.publish(route)
                    router.wait_for_backend("myapp.localhost", "web.1")
                    clients = [KeepaliveClient(router.settings.http_port) for _ in range(4)]
                    seen += [request_id(client) for _ in range(25) for client in clients]
                    seen += [request_id(KeepaliveClient(router.settings.http_port)) for _ in range(25)]
    assert len(seen) == 2 * 2 * 125
    duplicates = [value for value, count in Counter(seen).items() if count > 1]
    assert not duplicates, duplicates[:5]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("0123456789abcdefghij", True),
        ("a/b+c=d-" * 25, True),
        ("short-id", False),
        ("x" * 201, False),
        ("has spaces in it but long enough", False),
        ("bad_underscore_chars_here", False),
    ],
)
def test_a_valid_incoming_request_id_is_kept_and_an_invalid_one_replaced(
    redis_client: redis.Redis[bytes], incoming: str, kept: bool
) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        router.wait_for_backend("myapp.localhost", "web.1")
        headers = router.request("myapp.localhost", headers={"X-Request-Id": incoming}).json()["headers"]
        assert isinstance(headers, dict)
        if kept:
            assert headers["x-request-id"] == incoming
        else:
            assert re.fullmatch(VALID_REQUEST_ID, headers["x-request-id"])
            assert headers["x-request-id"] != incoming
        assert f"request_id={headers['x-request-id']}" in router.router_lines("myapp")[-1]


def test_request_bodies_over_the_limit_are_refused(redis_client: redis.Redis[bytes]) -> None:
    with (
        running_dynos("web.1") as (dyno,),
        running_router(redis_client, client_max_body_size="64k") as router,
    ):
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        router.wait_for_backend("myapp.localhost", "web.1")
        small = router.request("myapp.localhost", method="POST", body=b"x" * 60_000)
        assert small.status == 200 and small.json()["body_length"] == 60_000
        assert router.request("myapp.localhost", method="POST", body=b"x" * 70_000).status == 413


def test_large_bodies_pass_both_ways_through_nginx_temp_files(redis_client: redis.Redis[bytes]) -> None:
    """A 5 MB upload and a 20 MB download outgrow nginx's memory buffers, so its workers spill them to
    temp files; the router's state dir is private to root, as in `wharfd up`, and both still arrive whole."""
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        router.wait_for_backend("myapp.localhost", "web.1")
        upload = router.request("myapp.localhost", method="POST", body=b"x" * 5_000_000)
        assert upload.status == 200 and upload.json()["body_length"] == 5_000_000
        url = f"http://127.0.0.1:{router.settings.http_port}/bytes?n=20000000"
        with urllib.request.urlopen(
            urllib.request.Request(url, headers={"Host": "myapp.localhost"}), timeout=60
        ) as answer:
            body = answer.read()
        assert len(body) == 20_000_000
        assert body[:512] == bytes(range(256)) * 2 and body[-256:] == bytes(range(256))


def test_websocket_upgrades_pass_through_to_the_dyno(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        router.wait_for_backend("myapp.localhost", "web.1")
        with socket.create_connection(("127.0.0.1", router.settings.http_port), timeout=10) as client:
            client.sendall(
                b"GET /socket HTTP/1.1\r\nHost: myapp.localhost\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            stream = client.makefile("rb")
            status_line = stream.readline()
            assert b" 101 " in status_line
            response_headers = b""
            while (line := stream.readline()) not in (b"\r\n", b""):
                response_headers += line.lower()
            assert b"sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" in response_headers
            client.sendall(frame(b"hello", mask=True))
            assert read_frame(stream) == b"web.1:hello"
        lines = router.router_lines("myapp", count=2)
        assert any('path="/socket"' in line and "status=101" in line for line in lines)
