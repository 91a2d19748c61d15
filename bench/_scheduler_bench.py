"""Shared set-up for the scheduler benchmarks: a scratch database, a private Redis, real Docker."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import redis

from tests.scheduler.world import CIPHER, World
from wharf.platform.migrate import upgrade_database
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.testing import build_test_image
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.loop import Scheduler

OPTIONS = SchedulerOptions(
    resync_seconds=1.0, drain_seconds=1.0, stop_timeout=5.0, probe_interval=0.05, launcher=()
)


@contextmanager
def scheduler_world() -> Iterator[World]:
    with tempfile.TemporaryDirectory(prefix="wharf-bench-") as scratch:
        sock = Path(scratch) / "redis.sock"
        server = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        os.environ["REDIS_URL"] = f"unix://{sock}"  # audit lines of the scratch control plane go here too
        try:
            while not sock.exists():
                time.sleep(0.05)
            url = f"sqlite:///{scratch}/wharf.db"
            upgrade_database(url)
            client = docker.from_env()
            build_test_image(client)
            runtime = DockerRuntime(client)
            cache = redis.Redis(unix_socket_path=str(sock))
            scheduler = Scheduler(
                runtime=runtime, client=cache, database_url=url, cipher=CIPHER, options=OPTIONS
            )
            world = World(database_url=url, redis=cache, runtime=runtime, scheduler=scheduler)
            try:
                yield world
            finally:
                scheduler.fleet.wait_for_retirements()
                for dyno in runtime.list_dynos():
                    if dyno.app.startswith("s-"):
                        runtime.remove_dyno(dyno.id)
        finally:
            server.terminate()
            server.wait(timeout=10)
