"""Real Docker: 35 apps, each with its own network and a running web dyno (Docker's defaults fit about 30)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.utils.busybox_dynos import WEB, Apps, build_test_image, http_get, make_spec
from wharf.platform.runtime.docker_runtime import DockerRuntime

APPS = 35
DAEMON_JSON = Path("/etc/docker/daemon.json")

pytestmark = pytest.mark.e2e


def configured_pools() -> list[object]:
    try:
        return list(json.loads(DAEMON_JSON.read_text()).get("default-address-pools") or [])
    except (FileNotFoundError, ValueError):
        return []


def dockerd_started_at() -> float | None:
    """When the running dockerd started (seconds since the epoch), from /proc."""
    boot = next(
        float(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime")
    )
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != "dockerd":
                    continue
                ticks = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[19])
            except (OSError, IndexError, ValueError):
                continue
            return boot + ticks / os.sysconf("SC_CLK_TCK")
    return None


def pools_in_effect() -> bool:
    """daemon.json sets address pools and the running dockerd was started after it was written."""
    started = dockerd_started_at()
    return bool(configured_pools()) and started is not None and started > DAEMON_JSON.stat().st_mtime


@pytest.fixture
def apps() -> Iterator[Apps]:
    if not pools_in_effect():
        pytest.skip(
            f"the running dockerd has no default-address-pools from {DAEMON_JSON} (none set, or set after it "
            "started), so it fits only about 30 app networks; scripts/install.sh configures them (then "
            "restart dockerd)"
        )
    client = docker.from_env()
    build_test_image(client)
    made = Apps(DockerRuntime(client))
    yield made
    made.cleanup()
    client.close()


def test_thirty_five_apps_each_run_a_dyno_on_their_own_network(apps: Apps) -> None:
    dynos = []
    for _ in range(APPS):
        app = apps.new()
        dynos.append(apps.runtime.start_dyno(make_spec(app, WEB)))
    running = [apps.runtime.get_dyno(d.id) for d in dynos]
    assert all(d.running for d in running)
    for dyno in running:
        assert dyno.address is not None
        assert http_get(dyno.address)[0] == 200
