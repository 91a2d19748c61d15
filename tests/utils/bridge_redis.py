"""A private redis-server with a password on a test cluster's host bridge, where its nodes reach it."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from tests.utils.test_host import SharedLink


@dataclass(frozen=True)
class BridgeRedis:
    url: str

    def client(self) -> redis.Redis[bytes]:
        return redis.Redis.from_url(self.url)


@contextlib.contextmanager
def bridge_redis(link: SharedLink, port: int) -> Iterator[BridgeRedis]:
    """redis-server on the bridge's host address, nothing saved; stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed")
    address = str(next(link.network.hosts()))
    password = secrets.token_hex(16)
    argv = [binary, "--bind", address, "--port", str(port), "--requirepass", password]
    process = subprocess.Popen([*argv, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    served = BridgeRedis(f"redis://:{password}@{address}:{port}/0")
    try:
        client = served.client()
        for _ in range(200):
            with contextlib.suppress(redis.ConnectionError):
                client.ping()
                break
            time.sleep(0.05)
        client.close()
        yield served
    finally:
        process.terminate()
        process.wait(timeout=10)
