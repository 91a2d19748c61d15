"""A route table made while Redis had lost a half of it (see wharf.platform.routing) is published as
incomplete; a router serving a complete table keeps it over one, also once restarted, and serves the
next complete table, whatever apps it drops."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import redis

from wharf.platform.routing import (
    APP_ROUTES_KEY,
    BACKENDS_KEY,
    publish_route_table,
    replace_app_backends,
    replace_app_route_settings,
    route_settings,
    set_app_route_settings,
)
from wharf.router.controller import RouterController
from wharf.router.render import RouterPaths, RouterSettings
from wharf.router.routes import AppRoute, Backend, RouteTable, load_routes, publish_routes


@dataclass
class ConfigOnDisk:
    """An nginx master that only installs its config (the router's other tests run the real one)."""

    paths: RouterPaths
    running: bool = False
    reloads: int = 0
    installed: list[str] = field(default_factory=list)

    def install(self, text: str, *, validate: bool = True) -> None:
        self.paths.config.write_text(text, encoding="utf-8")
        self.installed.append(text)

    def start(self) -> None:
        self.running = True

    def reload(self) -> None:
        self.reloads += 1


def _controller(client: redis.Redis[bytes], state_dir: Path) -> RouterController:
    paths = RouterPaths(state_dir)
    paths.create()
    return RouterController(
        redis=client,
        settings=RouterSettings(http_port=8080, https_port=8443),
        paths=paths,
        nginx=ConfigOnDisk(paths),  # type: ignore[arg-type]
    )


def _route(app: str, port: int) -> AppRoute:
    return AppRoute(app=app, backends=(Backend(dyno="web.1", host="127.0.0.1", port=port),))


def _settings(app: str) -> dict[str, object]:
    return route_settings(hostnames=[f"{app}.wharf.test"], maintenance=False, tls=[])


def test_a_table_is_complete_only_while_both_halves_are_whole(redis_client: redis.Redis[bytes]) -> None:
    replace_app_route_settings(redis_client, {"shop": _settings("shop"), "blog": _settings("blog")})
    assert not load_routes(redis_client).complete, "the scheduler's half was never written whole"
    replace_app_backends(redis_client, {"shop": [{"dyno": "web.1", "host": "10.0.0.2", "port": 5000}]})
    table = load_routes(redis_client)
    assert table.complete and [route.app for route in table.apps] == ["blog", "shop"]
    assert [backend.port for backend in table.apps[1].backends] == [5000]

    redis_client.delete(APP_ROUTES_KEY)
    set_app_route_settings(redis_client, "shop", **_settings("shop"))  # type: ignore[arg-type]
    table = load_routes(redis_client)
    assert not table.complete and [route.app for route in table.apps] == ["shop"]

    replace_app_route_settings(redis_client, {"shop": _settings("shop"), "blog": _settings("blog")})
    assert load_routes(redis_client).complete
    redis_client.delete(BACKENDS_KEY)
    assert not publish_route_table(redis_client).complete


def test_a_router_keeps_a_complete_table_over_an_incomplete_one_also_once_restarted(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    router = _controller(redis_client, tmp_path)
    both = RouteTable(generation=1, apps=(_route("blog", 5001), _route("shop", 5002)), complete=True)
    publish_routes(redis_client, both)
    router.start()
    assert "blog" in router.paths.config.read_text()

    publish_routes(redis_client, RouteTable(generation=2, apps=(_route("shop", 5002),)))
    router.refresh()
    assert router.table == both
    assert "blog" in router.paths.config.read_text()

    restarted = _controller(redis_client, tmp_path)
    restarted.start()
    assert restarted.table == both
    assert "blog" in restarted.paths.config.read_text()

    shop_only = RouteTable(generation=3, apps=(_route("shop", 5002),), complete=True)
    publish_routes(redis_client, shop_only)
    restarted.refresh()
    assert restarted.table == shop_only
    assert "blog" not in restarted.paths.config.read_text()


def test_a_router_that_never_served_a_complete_table_serves_what_there_is(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    router = _controller(redis_client, tmp_path)
    publish_routes(redis_client, RouteTable(generation=1, apps=(_route("shop", 5002),)))
    router.start()
    publish_routes(redis_client, RouteTable(generation=2, apps=(_route("blog", 5001),)))
    router.refresh()
    assert [route.app for route in router.table.apps] == ["blog"]
