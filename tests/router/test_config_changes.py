"""A route change that only swaps the dynos behind apps is told apart from one that changes the config's
structure (which nginx -t must check), on configs rendered by the router itself."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.utils.router import self_signed
from wharf.router.config_changes import only_backends_differ
from wharf.router.render import RouterPaths, RouterSettings, render_nginx_config
from wharf.router.routes import AppRoute, Backend, RouteTable

WEB_1 = Backend("web.1", "172.18.0.5", 5000)
WEB_2 = Backend("web.2", "172.18.0.6", 5000)
SHOP = AppRoute(app="shop", hostnames=("shop.example.com",), backends=(WEB_1,))
BLOG = AppRoute(app="blog", backends=(Backend("web.1", "172.19.0.5", 5000),))


def rendered(tmp_path: Path, generation: int, *apps: AppRoute) -> str:
    return render_nginx_config(
        RouteTable(generation=generation, apps=apps),
        RouterSettings(http_port=8080, domain="apps.test"),
        RouterPaths(tmp_path),
        instance="0a1b2c3d4e5f",
    )


def test_other_dynos_behind_the_same_apps_need_no_config_check(tmp_path: Path) -> None:
    live = rendered(tmp_path, 7, SHOP, BLOG)
    scaled = rendered(
        tmp_path, 8, AppRoute(app="shop", hostnames=SHOP.hostnames, backends=(WEB_1, WEB_2)), BLOG
    )
    deployed = rendered(tmp_path, 19, AppRoute(app="shop", hostnames=SHOP.hostnames, backends=(WEB_2,)), BLOG)
    on_standby = rendered(
        tmp_path,
        9,
        AppRoute(app="shop", hostnames=SHOP.hostnames, backends=(WEB_1, replace(WEB_2, standby=True))),
        BLOG,
    )
    assert "server 172.18.0.6:5000 max_fails=1 fail_timeout=5s backup;" in on_standby
    assert only_backends_differ(live, scaled)
    assert only_backends_differ(scaled, on_standby)
    assert only_backends_differ(scaled, deployed)
    assert only_backends_differ(deployed, live)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param((SHOP, BLOG, AppRoute(app="new", backends=(WEB_2,))), id="an app added"),
        pytest.param((SHOP,), id="an app removed"),
        pytest.param((AppRoute(app="shop", backends=(WEB_1,)), BLOG), id="a hostname removed"),
        pytest.param((AppRoute(app="shop", hostnames=SHOP.hostnames), BLOG), id="no dyno left"),
        pytest.param(
            (AppRoute(app="shop", hostnames=SHOP.hostnames, backends=(WEB_1,), maintenance=True), BLOG),
            id="maintenance",
        ),
    ],
)
def test_a_change_of_apps_names_or_certificates_is_checked(
    tmp_path: Path, changed: tuple[AppRoute, ...]
) -> None:
    live = rendered(tmp_path, 7, SHOP, BLOG)
    assert not only_backends_differ(live, rendered(tmp_path, 8, *changed))


def test_a_first_config_and_an_unchanged_one_are_not_backend_changes(tmp_path: Path) -> None:
    live = rendered(tmp_path, 7, SHOP, BLOG)
    assert not only_backends_differ(None, live)
    assert not only_backends_differ(live, live)


def test_a_new_certificate_is_checked(tmp_path: Path) -> None:
    live = rendered(tmp_path, 7, SHOP, BLOG)
    certified = AppRoute(
        app="shop",
        hostnames=SHOP.hostnames,
        backends=(WEB_1,),
        tls=(self_signed(tmp_path, "shop.example.com"),),
    )
    assert not only_backends_differ(live, rendered(tmp_path, 8, certified, BLOG))
