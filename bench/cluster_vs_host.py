"""Deploy an app, then `ps:scale web=1` -> `web=10` until all ten are routed and answer: on the Swarm
runtime (the three-node test Swarm of private test hosts, since ten basic dynos reserve 2.5 CPUs, more
than one node of a 2-core machine has) against the Docker runtime (a plain private test host), same
run, same scheduler, same busybox dyno.

Each side runs inside its test host's network namespace (where the Docker runtime's container
addresses answer), with a private redis-server on a unix socket and a scratch SQLite database.
Run as root: .venv/bin/python -m bench.cluster_vs_host
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.utils.busybox_dynos import TEST_IMAGE, WEB, http_get
from tests.utils.netns_thread import run_in_netns
from tests.utils.scheduler_world import world_on
from tests.utils.swarm_host import swarmless_test_host
from tests.utils.test_cluster import swarm_test_cluster
from tests.utils.test_host import DockerTestHost
from wharf.platform.migrate import upgrade_database
from wharf.platform.runtime.base import Runtime
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.swarm_runtime import SwarmRuntime
from wharf.platform.scheduler.fleet import SchedulerOptions

OPTIONS = SchedulerOptions(
    resync_seconds=1.0,
    boot_timeout=60.0,
    drain_seconds=1.0,
    stop_timeout=5.0,
    probe_interval=0.05,
    launcher=(),
)
RuntimeOn = Callable[..., Runtime]


@dataclass(frozen=True)
class Timings:
    deploy: float
    scale: float


@contextlib.contextmanager
def private_redis(scratch: Path) -> Iterator[str]:
    sock = scratch / "redis.sock"
    binary = shutil.which("redis-server") or "redis-server"
    server = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", ""], stdout=subprocess.DEVNULL
    )
    try:
        while not sock.exists():
            time.sleep(0.05)
        yield f"unix://{sock}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure(host: DockerTestHost, make_runtime: RuntimeOn, redis_url: str, scratch: Path) -> Timings:
    """Deploy web=1, then scale to 10, on `host` through the runtime `make_runtime` builds."""
    url = f"sqlite:///{scratch / f'{host.name}.db'}"
    upgrade_database(url)

    def scenario() -> Timings:
        client = host.client()
        runtime = make_runtime(client, installation=f"bench-{secrets.token_hex(4)}")
        connection = redis.Redis.from_url(redis_url)
        try:
            with world_on(runtime, connection, url, OPTIONS) as world:
                app = world.new_app()
                began = time.monotonic()
                world.release(app, {"web": WEB}, image=TEST_IMAGE)
                status, lines = world.deploy(app)
                deployed = time.monotonic() - began
                if status != "succeeded":
                    raise RuntimeError("\n".join(lines))
                began = time.monotonic()
                world.scale(app, web=10)
                world.converge(lambda: len(world.backends(app)) == 10, timeout=180)
                for address in world.backend_addresses(app):
                    http_get(address)
                return Timings(deploy=deployed, scale=time.monotonic() - began)
        finally:
            connection.close()
            client.close()

    return run_in_netns(host.name, scenario)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wharf-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        with private_redis(scratch) as redis_url, swarmless_test_host(prefix="bench-") as plain:
            on_host = measure(plain, DockerRuntime, redis_url, scratch)
        with private_redis(scratch) as redis_url, swarm_test_cluster(workers=2) as cluster:
            on_swarm = measure(cluster.manager, SwarmRuntime, redis_url, scratch)
    print(
        f"deploy (web=1, routed):           docker {on_host.deploy:6.2f} s   swarm {on_swarm.deploy:6.2f} s"
    )
    print(f"scale web=1 -> web=10, answering: docker {on_host.scale:6.2f} s   swarm {on_swarm.scale:6.2f} s")
    deploy, scale = on_swarm.deploy / on_host.deploy, on_swarm.scale / on_host.scale
    print(f"ratio swarm/docker: deploy {deploy:.2f}, scale {scale:.2f}")


if __name__ == "__main__":
    main()
