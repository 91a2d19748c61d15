"""The scheduler on real Docker with the busybox test image: dynos answer, come back, stay isolated."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator

import docker
import pytest
import redis

from tests.utils.busybox_dynos import TEST_IMAGE, TRAPS_TERM, WEB, build_test_image, http_get
from tests.utils.scheduler_world import QUICK_OPTIONS, World, world_on
from wharf.platform.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.e2e
OPTIONS = QUICK_OPTIONS


@pytest.fixture
def docker_world(
    redis_client: redis.Redis[bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    from wharf.platform.migrate import upgrade_database

    url = f"sqlite:///{tmp_path_factory.mktemp('sched-db') / 'wharf.db'}"
    upgrade_database(url)
    client = docker.from_env()
    build_test_image(client)
    # Its own installation label: this scheduler must not reap the dynos of any other Wharf on the host.
    runtime = DockerRuntime(client, installation=f"sched-{secrets.token_hex(4)}")
    with world_on(runtime, redis_client, url, OPTIONS) as world:
        yield world
    client.close()


def deployed(world: World) -> str:
    app = world.new_app()
    world.release(app, {"web": WEB, "worker": TRAPS_TERM}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    return app


def test_a_pushed_release_answers_at_its_dyno_and_scales(docker_world: World) -> None:
    world = docker_world
    app = deployed(world)
    status, body = http_get(world.backend_addresses(app)[0])
    assert status == 200 and b"wharf test dyno" in body
    world.scale(app, web=3)
    world.converge(lambda: len(world.backends(app)) == 3)
    for address in world.backend_addresses(app):
        assert http_get(address)[0] == 200
    world.scale(app, web=1)
    world.converge(lambda: world.running(app) == ["web.1@v2"])


def test_a_killed_dyno_comes_back(docker_world: World) -> None:
    world = docker_world
    app = deployed(world)
    first = world.dynos(app)[0]
    docker.from_env().containers.get(first.id).kill()
    world.converge(lambda: any(d.running and d.id != first.id for d in world.dynos(app)))
    world.converge(lambda: world.backends(app) == ["web.1"])
    assert http_get(world.backend_addresses(app)[0])[0] == 200


def test_one_apps_dyno_cannot_reach_another_apps_dyno(docker_world: World) -> None:
    world = docker_world
    first, second = deployed(world), deployed(world)
    target_host, target_port = world.backend_addresses(second)[0]
    probe = f"nc -w 2 {target_host} {target_port} </dev/null && echo reached || echo blocked"
    release = world.scheduler.deployer.reload_target(first)
    assert release is not None and release.current is not None
    from wharf.platform.scheduler.dynos import oneoff_spec

    spec = oneoff_spec(first, release.current, probe, launcher=())
    chunks: list[bytes] = []
    world.runtime.run_oneoff(spec, on_output=chunks.append, timeout=30)
    assert b"blocked" in b"".join(chunks), b"".join(chunks)


def test_rolling_deploy_under_load_fails_no_request(docker_world: World) -> None:
    """The load follows the published backends, as the router does; no request may fail."""
    world = docker_world
    app = deployed(world)
    world.scale(app, web=2)
    world.converge(lambda: len(world.backends(app)) == 2)
    failures: list[str] = []
    sent = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal sent
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            for address in world.backend_addresses(app):
                sent += 1
                try:
                    with socket.create_connection(address, timeout=2) as connection:
                        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
                        answer = connection.recv(64)
                        if answer.split(b" ")[1:2] != [b"200"]:
                            failures.append(f"{address} answered {answer!r}")
                except OSError as error:
                    failures.append(f"{address}: {error}")

    worker = threading.Thread(target=load)
    worker.start()
    version = world.release(app, {"web": WEB, "worker": TRAPS_TERM}, image=TEST_IMAGE, config={"V": "2"})
    status, lines = world.deploy(app)
    world.scheduler.fleet.wait_for_retirements()
    stop.set()
    worker.join()
    assert status == "succeeded", lines
    assert world.running(app) == [f"web.1@v{version}", f"web.2@v{version}"]
    assert sent > 50 and failures == []
