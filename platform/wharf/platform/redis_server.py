"""The private redis-server that `wharfd up` runs when REDIS_URL is not set."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis


def start_private_redis(socket_path: Path) -> subprocess.Popen[bytes]:
    """Start redis-server on a unix socket only (no TCP port), persisting to the data dir."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed. Install it (apt-get install redis-server) or set REDIS_URL."
        )
    workdir = socket_path.parent
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "600",
            "--dir",
            str(workdir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(socket_path))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {process.returncode}; see its log above.")
        try:
            client.ping()
            return process
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"redis-server did not answer on {socket_path} within 15 seconds.")
