"""Benchmark: the log shipper carrying dyno output into Redis at 10,000 lines/s.

Usage: .venv/bin/python bench/log_shipper.py [--rate 10000] [--seconds 20] [--dynos 4]

Busybox dynos print numbered lines in bursts (rate/dynos lines per second each) while
`wharfd logshipper` (a real subprocess, on a private redis-server) ships them. Printed: the offered
rate, the rate stored, lines lost or repeated, the shipper's CPU share and peak memory, and, as the
baseline from the same run, reading the same lines straight from Docker's log API (`docker logs`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import docker
import docker.errors
import redis
from busybox_image import build_test_image, make_spec

from wharf.platform.logs.docker_follow import split_frames
from wharf.platform.logs.stream import stream_key
from wharf.platform.migrate import upgrade_database
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.settings import Settings

BURSTS_PER_SECOND = 10
EMITTER = (
    "b=0; while [ $b -lt $BURSTS ]; do "
    "busybox seq $((b * PER_BURST)) $((b * PER_BURST + PER_BURST - 1)) "
    '| busybox sed "s/^/$DYNO seq /; s/$/ GET \\/api\\/items status=200 bytes=512 service=12ms/"; '
    "b=$((b+1)); sleep 0.1; done; sleep 3600"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    socket_path = directory / "redis.sock"
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"unix://{socket_path}"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def start_shipper(directory: Path, redis_url: str) -> subprocess.Popen[bytes]:
    database_url = f"sqlite:///{directory / 'wharf.db'}"
    upgrade_database(database_url)
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        WHARF_DATA_DIR=str(directory),
        WHARF_LOG_MAX_LINES=str(10**7),
        WHARF_RUNTIME="docker",
    )
    log = (directory / "shipper.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "wharf.platform.wharfd", "logshipper"], env=env, stdout=log, stderr=log
    )


def baseline_docker_logs(api: docker.APIClient, container_ids: list[str]) -> tuple[float, float, int]:
    """Read every line straight from Docker's log API: (lines/s, CPU seconds of this reader, lines)."""
    started, cpu_started, lines = time.monotonic(), time.process_time(), 0
    for container_id in container_ids:
        try:
            stream = api.logs(container_id, stream=True, follow=False, timestamps=True)
            lines += sum(1 for _ in split_frames(stream))
        except docker.errors.NotFound:
            continue  # removed by someone else meanwhile; the rate covers what was read
    elapsed = time.monotonic() - started
    return lines / elapsed, time.process_time() - cpu_started, lines


def run(rate: int, seconds: int, dynos: int) -> None:
    client = docker.from_env()
    build_test_image(client)
    directory = Path(tempfile.mkdtemp(prefix="wharf-bench-logs-"))
    # The shipper follows only its own installation's dynos: label these as that installation's.
    installation = Settings(wharf_data_dir=directory).installation_id
    runtime = DockerRuntime(client, installation=installation)
    app = f"bench-{secrets.token_hex(3)}"
    runtime.ensure_network(app)
    redis_process, redis_url = start_redis(directory)
    store = redis.Redis.from_url(redis_url)
    shipper = start_shipper(directory, redis_url)
    per_burst = rate // dynos // BURSTS_PER_SECOND
    expected = per_burst * BURSTS_PER_SECOND * seconds * dynos
    container_ids: list[str] = []
    try:
        time.sleep(2.0)  # the shipper connects and takes its first look
        cpu_before, started = cpu_seconds(shipper.pid), time.monotonic()
        for number in range(1, dynos + 1):
            env = {"BURSTS": str(BURSTS_PER_SECOND * seconds), "PER_BURST": str(per_burst)}
            spec = make_spec(app, EMITTER, number=number, env=env)
            container_ids.append(runtime.start_dyno(spec).id)
        deadline = started + seconds * 3 + 30
        while store.xlen(stream_key(app)) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the dynos' start notes and any straggler
        elapsed = time.monotonic() - started
        shipper_cpu = cpu_seconds(shipper.pid) - cpu_before
        report(store, app, expected, dynos, elapsed, shipper_cpu, peak_rss_mb(shipper.pid))
        base_rate, base_cpu, base_lines = baseline_docker_logs(client.api, container_ids)
        base_cpu_per_line = base_cpu / base_lines
        print(
            f"baseline docker logs: {base_rate:,.0f} lines/s read, {base_cpu_per_line * 1e6:.1f} µs CPU/line"
        )
        ratio = shipper_cpu / expected / base_cpu_per_line
        print(f"shipper CPU per line / docker logs reader CPU per line: {ratio:.2f}")
    finally:
        shipper.terminate()
        shipper.wait(timeout=60)
        for container_id in container_ids:
            runtime.remove_dyno(container_id)  # a no-op for a dyno that is gone already
        runtime.remove_network(app)
        redis_process.terminate()
        redis_process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def report(
    store: redis.Redis[bytes], app: str, expected: int, dynos: int, elapsed: float, cpu: float, rss: float
) -> None:
    entries = store.xrange(stream_key(app))
    lines = [fields[b"line"].decode() for _, fields in entries if fields[b"source"] == b"app"]
    unique = set(lines)
    first_ts, last_ts = entries[0][1][b"ts"].decode(), entries[-1][1][b"ts"].decode()
    span = (datetime.fromisoformat(last_ts) - datetime.fromisoformat(first_ts)).total_seconds()
    stored_at = int(entries[-1][0].decode().split("-")[0]) / 1000
    lag = stored_at - datetime.fromisoformat(last_ts).timestamp()
    offered = expected / span
    print(f"dynos: {dynos}, lines printed: {expected:,} over {span:.1f} s ({offered:,.0f} lines/s offered)")
    print(
        f"stored: {len(lines):,} lines, {len(unique):,} distinct; lost {expected - len(unique)}, "
        f"repeated {len(lines) - len(unique)}"
    )
    reached = len(unique) / max(span + lag, 1e-9)
    print(
        f"lines/s reached: {reached:,.0f} (the last line was stored {lag * 1000:.0f} ms after it was printed)"
    )
    print(
        f"shipper CPU: {cpu:.2f} s over {elapsed:.1f} s = {cpu / elapsed:.0%} of one core; "
        f"{cpu / max(len(lines), 1) * 1e6:.1f} µs/line; peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--dynos", type=int, default=4)
    arguments = parser.parse_args()
    run(arguments.rate, arguments.seconds, arguments.dynos)
