"""`wharfd cluster init`'s move: an app served by plain containers on one host ends up served by Swarm
services on the new swarm, with no failed request in between, while the control plane's scheduler on
the Docker runtime stands aside. The host is a private test host (its own engine, not yet in a swarm);
the code runs inside its network namespace, where its containers' addresses answer."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.scheduler.test_scheduler_docker import OPTIONS, deployed
from tests.utils.netns_thread import run_in_netns
from tests.utils.scheduler_world import CIPHER_KEY, World, world_on
from tests.utils.swarm_host import swarmless_test_host
from tests.utils.test_host import DockerTestHost
from wharf.platform.cluster.membership import init_swarm
from wharf.platform.cluster.moving import move_to_swarm
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.swarm_runtime import SwarmRuntime
from wharf.platform.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]
OVERLAY_POOL = "10.236.0.0/16"


@pytest.fixture
def plain_host() -> Iterator[DockerTestHost]:
    """A private test host in no swarm yet (live-restore off, as cluster init requires)."""
    with swarmless_test_host(prefix="move-") as host:
        yield host


@pytest.fixture
def socket_redis(tmp_path: Path) -> Iterator[str]:
    """A private redis-server on a unix socket, reachable from inside the test host's namespace."""
    sock = tmp_path / "redis.sock"
    binary = shutil.which("redis-server") or "redis-server"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(sock))
    for _ in range(200):
        with contextlib.suppress(redis.ConnectionError, FileNotFoundError):
            client.ping()
            break
        time.sleep(0.05)
    yield f"unix://{sock}"
    client.close()
    process.terminate()
    process.wait(timeout=10)


class RouterLoad:
    """Requests sent one after another to the app's published backends, re-read as a router does."""

    def __init__(self, world: World, app: str) -> None:
        self.world, self.app = world, app
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="router-load")

    def __enter__(self) -> RouterLoad:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            backends = self.world.backend_addresses(self.app)
            if not backends:
                self.failures.append("no backend routed")
            for address in backends:
                self.sent += 1
                try:
                    with socket.create_connection(address, timeout=2) as connection:
                        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
                        answer = connection.recv(64)
                        if answer.split(b" ")[1:2] != [b"200"]:
                            self.failures.append(f"{address} answered {answer!r}")
                except OSError as error:
                    self.failures.append(f"{address}: {error}")


def test_cluster_init_moves_a_served_app_onto_swarm_services_without_a_failed_request(
    plain_host: DockerTestHost,
    socket_redis: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wharf.platform.migrate import upgrade_database

    monkeypatch.setenv("DOCKER_HOST", plain_host.docker_host)  # where app.json is read from images
    url = f"sqlite:///{tmp_path / 'wharf.db'}"
    upgrade_database(url)
    installation = f"move-{secrets.token_hex(4)}"
    settings = Settings(
        wharf_data_dir=tmp_path / "data",
        database_url=url,
        redis_url=socket_redis,
        wharf_secret_key=CIPHER_KEY,
        wharf_runtime="docker",
    )

    def scenario() -> None:
        client = plain_host.client()
        connection = redis.Redis.from_url(socket_redis)
        plain = DockerRuntime(client, installation=installation)
        swarm = SwarmRuntime(client, installation=installation)
        with world_on(plain, connection, url, OPTIONS) as world:
            app = deployed(world)
            world.scale(app, web=2)
            world.converge(lambda: len(world.backends(app)) == 2)
            # The control plane's scheduler on the Docker runtime goes on running through the move.
            world.scheduler.runtime_name = "docker"
            stop = threading.Event()
            control_plane = threading.Thread(
                target=world.scheduler.run, args=(stop,), name="docker-scheduler"
            )
            control_plane.start()
            init_swarm(client, plain_host.address, address_pool=OVERLAY_POOL)
            said: list[str] = []
            try:
                with RouterLoad(world, app) as load:
                    move_to_swarm(
                        settings,
                        engine=client,
                        source=plain,
                        target=swarm,
                        options=OPTIONS,
                        progress=said.append,
                    )
                    time.sleep(OPTIONS.resync_seconds * 2)  # the standing-aside scheduler has looked again
            finally:
                stop.set()
                control_plane.join(timeout=30)
            assert load.sent > 50 and load.failures == [], (load.sent, load.failures[:5], said)
            assert plain.list_dynos(app) == []
            moved = [d for d in swarm.list_dynos(app) if d.running]
            assert sorted(d.dyno for d in moved) == ["web.1", "web.2"]
            services = {s.id for s in client.services.list(filters={"label": f"wharf.app={app}"})}
            assert {d.id for d in moved} <= services
            assert sorted(world.backend_addresses(app)) == sorted(d.address for d in moved if d.address)
            assert client.networks.get(f"wharf-swarm-{app}").attrs["Driver"] == "overlay"
            for dyno in moved:
                swarm.remove_dyno(dyno.id)
            swarm.remove_network(app)
        connection.close()
        client.close()

    run_in_netns(plain_host.name, scenario)
