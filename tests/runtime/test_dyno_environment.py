"""What a dyno sees of its size: WEB_CONCURRENCY as Heroku sets it, and where its disk is bounded."""

from __future__ import annotations

import dataclasses

import pytest

from tests.utils.busybox_dynos import WEB, make_spec
from wharf.platform.runtime.docker_runtime import disk_limit_supported


@pytest.mark.parametrize(("size", "concurrency"), [("basic", "2"), ("standard", "4"), ("performance", "5")])
def test_web_concurrency_follows_the_dyno_size(size: str, concurrency: str) -> None:
    env = make_spec("sized", WEB, size=size).environment()

    assert env["WEB_CONCURRENCY"] == concurrency


def test_the_apps_config_overrides_web_concurrency_but_never_port_or_dyno() -> None:
    spec = dataclasses.replace(
        make_spec("sized", WEB, size="performance"), env={"WEB_CONCURRENCY": "9", "PORT": "1", "DYNO": "x"}
    )

    env = spec.environment()

    assert (env["WEB_CONCURRENCY"], env["PORT"], env["DYNO"]) == ("9", str(spec.port), "web.1")


@pytest.mark.parametrize(
    ("info", "supported"),
    [
        ({"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"]]}, False),
        ({"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "xfs"]]}, True),
        ({"Driver": "btrfs", "DriverStatus": []}, True),
        ({"Driver": "vfs"}, False),
        ({}, False),
    ],
)
def test_the_writable_layer_is_bounded_only_where_the_storage_driver_can(
    info: dict[str, object], supported: bool
) -> None:
    assert disk_limit_supported(info) is supported
