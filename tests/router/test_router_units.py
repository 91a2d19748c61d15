"""The route table contract, the log line format and the log tailer, without nginx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from wharf.router.logs import AccessLogTailer, split_router_record
from wharf.router.render import RouterPaths, RouterSettings, render_nginx_config
from wharf.router.routes import (
    ROUTES_CHANNEL,
    AppRoute,
    Backend,
    RouteTable,
    TlsCertificate,
    load_routes,
    parse_route_table,
    publish_routes,
)

CONTROL_PLANE_JSON = {
    "generation": 7,
    "apps": [
        {
            "app": "myapp",
            "hostnames": ["myapp.localhost", "WWW.Example.com."],
            "maintenance": False,
            "backends": [{"dyno": "web.1", "host": "172.18.0.5", "port": 5000}],
            "tls": [
                {
                    "hostname": "www.example.com",
                    "cert_path": "/d/c.pem",
                    "key_path": "/d/k.pem",
                    "redirect_http": True,
                }
            ],
        }
    ],
}


def test_the_control_plane_json_loads_into_typed_routes() -> None:
    table = parse_route_table(json.dumps(CONTROL_PLANE_JSON))
    assert table.generation == 7
    (app,) = table.apps
    assert app.hostnames == ("myapp.localhost", "www.example.com")
    assert app.backends == (Backend(dyno="web.1", host="172.18.0.5", port=5000),)
    assert app.tls == (TlsCertificate("www.example.com", "/d/c.pem", "/d/k.pem", redirect_http=True),)


def test_a_missing_table_is_an_empty_one() -> None:
    assert parse_route_table(None) == RouteTable()
    assert parse_route_table(b"") == RouteTable()


@pytest.mark.parametrize(
    "bad_entry",
    [
        {"app": "Bad_Name"},
        {"app": "ok", "hostnames": ["a.com;evil"]},
        {"app": "ok", "hostnames": ["a.com b.com"]},
        {"app": "ok", "backends": [{"dyno": "web.1", "host": "1.2.3.4; x", "port": 80}]},
        {"app": "ok", "backends": [{"dyno": "web.1", "host": "1.2.3.4", "port": 70000}]},
        {"app": "ok", "tls": [{"hostname": "a.com", "cert_path": "/x;y", "key_path": "/k"}]},
        "not an object",
    ],
)
def test_an_unsafe_app_entry_is_dropped_and_the_rest_kept(bad_entry: object) -> None:
    table = parse_route_table(json.dumps({"generation": 1, "apps": [bad_entry, {"app": "good"}]}))
    assert [route.app for route in table.apps] == ["good"]


def test_a_hostname_belongs_to_the_first_app_that_claims_it() -> None:
    table = parse_route_table(
        json.dumps(
            {
                "apps": [
                    {"app": "one", "hostnames": ["x.com"]},
                    {"app": "two", "hostnames": ["x.com", "y.com"]},
                ]
            }
        )
    )
    assert [route.hostnames for route in table.apps] == [("x.com",), ("y.com",)]


def test_publish_routes_stores_the_table_and_announces_it(redis_url: str) -> None:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(ROUTES_CHANNEL)
    pubsub.get_message(timeout=1)
    table = parse_route_table(json.dumps(CONTROL_PLANE_JSON))
    publish_routes(client, table)
    try:
        assert load_routes(client) == table
        message = pubsub.get_message(timeout=2)
        assert message is not None and message["data"] == b"7"
    finally:
        client.delete("wharf:routes")
        pubsub.close()


def record_line(path: str = "/", code: str = "", desc: str = "") -> bytes:
    at = "error" if code else "info"
    return (
        f'myapp\tat={at} code={code} desc="{desc}" method=GET path="{path}" host=myapp.localhost '
        'request_id=abc fwd="1.2.3.4" dyno=web.1 connect=1ms service=3ms status=200 bytes=123 protocol=http'
    ).encode()


def test_a_record_becomes_the_apps_router_line() -> None:
    assert split_router_record(record_line(path='/a\\"b')) == (
        "myapp",
        'at=info method=GET path="/a\\"b" host=myapp.localhost request_id=abc fwd="1.2.3.4" dyno=web.1 '
        "connect=1ms service=3ms status=200 bytes=123 protocol=http",
    )


def test_an_error_record_keeps_its_code_and_description() -> None:
    record = split_router_record(record_line(code="H12", desc="Request timeout"))
    assert record is not None
    assert record[1].startswith('at=error code=H12 desc="Request timeout" method=GET path="/"')


def test_unknown_hosts_and_foreign_lines_are_not_delivered() -> None:
    assert split_router_record(b'\tat=info code= desc="" method=GET path="/"') is None
    assert split_router_record(b"127.0.0.1 - - [27/Nov/2026] GET / HTTP/1.1") is None


def test_the_tailer_follows_the_log_across_rotation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(record_line(path="/old") + b"\n")
    delivered: list[tuple[str, str]] = []
    reopened: list[bool] = []

    def reopen() -> None:
        reopened.append(True)
        log.touch()

    tailer = AccessLogTailer(
        log,
        lambda app, line: delivered.append((app, line)),
        rotate_bytes=300,
        reopen=reopen,
    )
    assert tailer.poll() == 0
    with log.open("ab") as writer:
        second = record_line(path="/two")
        writer.write(record_line(path="/one") + b"\n" + second[:40])
        writer.flush()
        assert tailer.poll() == 1
        writer.write(second[40:] + b"\n")
    assert tailer.poll() == 1
    assert reopened == [True]
    with log.open("ab") as writer:
        writer.write(record_line(path="/three") + b"\n")
    tailer.poll()
    tailer.poll()
    assert [line.split()[2] for _, line in delivered] == ['path="/one"', 'path="/two"', 'path="/three"']
    assert not (tmp_path / "access.log.1").exists()


def test_the_rendered_config_names_every_route(tmp_path: Path) -> None:
    table = RouteTable(
        generation=3,
        apps=(
            AppRoute(
                app="live", hostnames=("shop.example.com",), backends=(Backend("web.1", "10.0.0.5", 5000),)
            ),
            AppRoute(app="idle"),
        ),
    )
    text = render_nginx_config(
        table,
        RouterSettings(http_port=8080, domain="apps.test"),
        RouterPaths(tmp_path),
        instance="0a1b2c3d4e5f",
    )
    assert "server_name live.apps.test shop.example.com;" in text
    assert "server 10.0.0.5:5000" in text and "least_conn;" in text and "keepalive 64;" in text
    assert "server_name idle.apps.test;" in text and "upstream wharf_app_idle" not in text
    assert '"10.0.0.5:5000" web.1;' in text


def test_the_control_plane_asks_for_acme_certificates_per_app(redis_client: redis.Redis[bytes]) -> None:
    from wharf.platform.routing import set_app_route_settings

    set_app_route_settings(
        redis_client, "auto", hostnames=["shop.example.com"], maintenance=False, tls=[], acme=True
    )
    set_app_route_settings(redis_client, "manual", hostnames=["blog.example.com"], maintenance=False, tls=[])
    routes = {route.app: route for route in load_routes(redis_client).apps}
    assert routes["auto"].acme is True
    assert routes["manual"].acme is False
