"""Dyno output through the shipper into `wharf logs --tail`, across container replacement and a
restart of the shipper, with real Docker containers (the runtime's busybox test image)."""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import docker
import docker.errors
import pytest
import redis

from tests.conftest import LiveServer
from tests.utils.api import client_for
from tests.utils.busybox_dynos import build_test_image, make_spec
from tests.utils.wharf_cli import Tail, cli_env, run_wharf
from wharf.platform.logs.shipper import LogShipper
from wharf.platform.logs.stream import LogWriter, recent_lines
from wharf.platform.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.e2e
TICKS = 'i=0; while true; do echo "$TAG tick $i"; i=$((i+1)); sleep 0.2; done'


class RunningShipper:
    def __init__(self, redis_url: str) -> None:
        client = redis.Redis.from_url(redis_url)
        self.shipper = LogShipper(docker.from_env().api, LogWriter(client), resync_seconds=1.0)
        self.thread = threading.Thread(target=self.shipper.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shipper.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


@pytest.fixture
def runtime() -> Iterator[DockerRuntime]:
    client = docker.from_env()
    build_test_image(client)
    yield DockerRuntime(client)
    client.close()


@pytest.fixture
def app_name(live_server: LiveServer, runtime: DockerRuntime) -> Iterator[tuple[str, str]]:
    _, token = live_server.signup()
    name = f"logs-{secrets.token_hex(4)}"
    client_for(live_server, token).post("/api/apps", json={"name": name}).raise_for_status()
    runtime.ensure_network(name)
    yield name, token
    for dyno in runtime.list_dynos(name):
        runtime.remove_dyno(dyno.id)
    with contextlib.suppress(docker.errors.NotFound):
        runtime.remove_network(name)


def start_ticker(runtime: DockerRuntime, app: str, tag: str, release: int) -> str:
    spec = make_spec(app, TICKS, release=release, env={"TAG": tag})
    return runtime.start_dyno(spec).id


def line_age(line: str, arrived_wall: float) -> float:
    stamp = line.split(" ", 1)[0]
    return arrived_wall - datetime.fromisoformat(stamp).timestamp()


def test_dyno_output_reaches_wharf_logs_tail_and_outlives_the_container_and_the_shipper(
    live_server: LiveServer, runtime: DockerRuntime, app_name: tuple[str, str], tmp_path: Path
) -> None:
    name, token = app_name
    env = cli_env(live_server.url, token, tmp_path)
    shipper = RunningShipper(live_server.redis_url)
    tail = Tail(env, "-a", name, "--source", "app")
    try:
        first = start_ticker(runtime, name, "one", release=1)
        seen = tail.wait_for("app[web.1]: one tick 3")
        assert seen is not None, tail.stop()
        offset = time.time() - time.monotonic()
        assert line_age(seen[1], seen[0] + offset) < 1.0, seen

        runtime.remove_dyno(first)
        start_ticker(runtime, name, "two", release=2)
        assert tail.wait_for("app[web.1]: two tick 2") is not None, "the tail did not follow the new dyno"

        shipper.stop()
        time.sleep(1.5)  # the dyno keeps printing while no shipper runs
        shipper = RunningShipper(live_server.redis_url)
        assert tail.wait_for("app[web.1]: two tick 12") is not None
    finally:
        shipper.stop()
        tail.stop()

    shown = run_wharf(env, "logs", "-a", name, "--num", "1000", "--source", "app").stdout
    ticks = re.findall(r"app\[web\.1\]: (one|two) tick (\d+)", shown)
    one = [int(n) for tag, n in ticks if tag == "one"]
    two = [int(n) for tag, n in ticks if tag == "two"]
    assert one == list(range(len(one))) and len(one) >= 4, "the replaced dyno's lines are gone"
    assert two == list(range(len(two))) and len(two) >= 13, "lines were lost or repeated over the restart"


def test_platform_notes_dyno_start_and_exit(
    live_server: LiveServer, runtime: DockerRuntime, app_name: tuple[str, str]
) -> None:
    name, _ = app_name
    shipper = RunningShipper(live_server.redis_url)
    try:
        time.sleep(0.5)
        dyno = runtime.start_dyno(make_spec(name, "echo booting; exit 3"))
        runtime.wait(dyno.id, timeout=30)
        expected = [
            "heroku[web.1]: Starting process with command `echo booting; exit 3`",
            "app[web.1]: booting",
            "heroku[web.1]: Process exited with status 3",
        ]
        # The exit note and the dyno's own output travel separately: wait for all of them, not the first.
        deadline = time.monotonic() + 10
        tail: list[str] = []
        while time.monotonic() < deadline and not all(line in tail for line in expected):
            rendered = [e.render() for e in recent_lines(redis.Redis.from_url(live_server.redis_url), name)]
            tail = [line.split(" ", 1)[1] for line in rendered]
            time.sleep(0.1)
    finally:
        shipper.stop()
    for line in expected:
        assert line in tail
