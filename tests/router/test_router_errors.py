"""Heroku's error pages and codes, and the router log lines an app owner reads."""

from __future__ import annotations

import re
import socket
import time

import pytest
import redis

from tests.utils.network import free_port
from tests.utils.router import closing_backend, running_dynos, running_router
from wharf.router.routes import AppRoute, Backend

pytestmark = pytest.mark.e2e


def test_a_served_request_is_logged_in_herokus_format(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        answer = router.request(
            "myapp.localhost", '/search?q="x"', headers={"X-Forwarded-For": "198.51.100.4"}
        )
        assert answer.status == 200
        line = router.router_lines("myapp")[-1]
        request_id = answer.json()["headers"]["x-request-id"]  # type: ignore[index]
        match = re.fullmatch(
            rf'at=info method=GET path="/search\?q=\\"x\\"" host=myapp\.localhost request_id={request_id} '
            rf'fwd="198\.51\.100\.4, 127\.0\.0\.1" dyno=web\.1 connect=\d+ms service=\d+ms status=200 '
            r"bytes=(\d+) protocol=http",
            line,
        )
        assert match, line
        assert int(match.group(1)) > len(answer.body)


def test_no_web_dynos_answers_503_and_logs_h14(redis_client: redis.Redis[bytes]) -> None:
    with running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=()))
        answer = router.request("myapp.localhost")
        assert answer.status == 503
        assert "no web dynos running" in answer.text
        line = router.router_lines("myapp")[-1]
        assert line.startswith('at=error code=H14 desc="No web processes running" method=GET path="/"')
        assert " dyno= connect= service= status=503 " in line


def test_a_dyno_refusing_connections_answers_503_and_logs_h10(redis_client: redis.Redis[bytes]) -> None:
    with running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(Backend("web.1", "127.0.0.1", free_port()),)))
        answer = router.request("myapp.localhost")
        assert answer.status == 503
        assert "Application error" in answer.text
        line = router.router_lines("myapp")[-1]
        assert line.startswith('at=error code=H10 desc="App crashed"'), line
        assert "status=503" in line


def test_a_dyno_closing_without_response_answers_503_and_logs_h13(redis_client: redis.Redis[bytes]) -> None:
    with closing_backend() as port, running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(Backend("web.1", "127.0.0.1", port),)))
        answer = router.request("myapp.localhost", method="POST", body=b"data")
        assert answer.status == 503
        assert "Application error" in answer.text
        line = router.router_lines("myapp")[-1]
        assert line.startswith('at=error code=H13 desc="Connection closed without response" method=POST'), (
            line
        )
        assert "dyno=web.1 " in line


def test_a_slow_dyno_is_cut_off_with_503_and_logs_h12(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client, request_timeout=1) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        assert router.request("myapp.localhost", "/sleep?s=0.1").status == 200
        answer = router.request("myapp.localhost", "/sleep?s=3")
        assert answer.status == 503
        assert "took too long" in answer.text
        line = router.router_lines("myapp", count=2)[-1]
        assert line.startswith('at=error code=H12 desc="Request timeout" method=GET path="/sleep?s=3"'), line
        assert re.search(r" dyno=web\.1 connect=\d+ms service=1\d{3}ms status=503 ", line), line


def test_a_client_that_hangs_up_before_the_answer_logs_h27(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        with socket.create_connection(("127.0.0.1", router.settings.http_port), timeout=5) as client:
            client.sendall(b"GET /sleep?s=1 HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n")
            time.sleep(0.3)
        line = router.router_lines("myapp")[-1]
        assert line.startswith('at=error code=H27 desc="Client Request Interrupted" method=GET'), line
        assert " dyno=web.1 " in line and " status=499 " in line, line


def test_maintenance_mode_answers_the_maintenance_page_and_logs_h80(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,), maintenance=True))
        answer = router.request("myapp.localhost")
        assert answer.status == 503
        assert "Offline for maintenance" in answer.text
        assert dyno.server.hits == 0
        line = router.router_lines("myapp")[-1]
        assert line.startswith('at=info code=H80 desc="Maintenance mode" method=GET'), line
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,), maintenance=False))
        assert router.request("myapp.localhost").status == 200


def test_error_pages_show_the_request_id(redis_client: redis.Redis[bytes]) -> None:
    with running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=()))
        answer = router.request("myapp.localhost", headers={"X-Request-Id": "support-ticket-0123456789"})
        assert "Request ID: support-ticket-0123456789" in answer.text


def test_unknown_hosts_are_not_logged_to_any_app(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        assert router.request("nobody.localhost").status == 404
        router.request("myapp.localhost")
        router.router_lines("myapp")
        assert {app for app, _ in router.lines} == {"myapp"}
