"""Attached one-offs relayed by a node agent through Redis, against the same one-off attached directly
(the manager's own engine), in one run.

Usage: .venv/bin/python -m bench.oneoff_relay [--rounds 5] [--megabytes 64]   (Docker, redis-server)

Both kinds run on this machine's engine with the tests' busybox image; the relayed one goes through
the agent's one-off host (on a thread, as in the agent) and a private redis-server, as a one-off on a
worker does. For each, the median of --rounds:
  - start: from asking for the dyno to its first byte of output (`echo`);
  - output: the throughput of --megabytes of output (`head -c N /dev/zero`), read as fast as it comes;
  - round trip: a line typed into `cat` until it comes back, the median of 200 lines;
and the relayed figure against the direct one.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import docker

from bench._scheduler_bench import private_redis
from tests.utils.busybox_dynos import build_test_image, make_spec
from wharf.platform.cluster.oneoff_host import OneOffHost
from wharf.platform.runtime.base import AttachedDyno, DynoSpec
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.swarm_remote_attach import RemoteOneOffs

Starter = Callable[[DynoSpec], AttachedDyno]


async def _first_byte(attached: AttachedDyno, began: float) -> float:
    await attached.open()
    try:
        chunk = await attached.read()
        assert chunk is not None, "no output"
        return time.perf_counter() - began
    finally:
        await attached.close()


async def _drain(attached: AttachedDyno, size: int) -> float:
    await attached.open()
    try:
        await attached.close_stdin()
        began = time.perf_counter()
        got = 0
        while chunk := await attached.read():
            got += len(chunk[1])
        elapsed = time.perf_counter() - began
        assert got == size, f"{got} of {size} bytes"
        return size / elapsed / 1e6
    finally:
        await attached.close()


async def _round_trips(attached: AttachedDyno, lines: int) -> float:
    await attached.open()
    try:
        times = []
        for number in range(lines):
            line = f"line {number}\n".encode()
            began = time.perf_counter()
            await attached.write(line)
            echoed = b""
            while not echoed.endswith(b"\n"):
                chunk = await attached.read()
                assert chunk is not None, "cat ended"
                echoed += chunk[1]
            times.append(time.perf_counter() - began)
        await attached.close_stdin()
        return statistics.median(times) * 1000
    finally:
        await attached.close()


def _measure(start: Starter, image: str, network: str, megabytes: int) -> tuple[float, float, float]:
    def spec(command: str) -> DynoSpec:
        number = 1000 + secrets.randbelow(9000)
        return make_spec(
            "bench-relay", command, process_type="run", number=number, image=image, network=network
        )

    began = time.perf_counter()
    attached = start(spec("echo started"))
    try:
        first = asyncio.run(_first_byte(attached, began))
    finally:
        attached.remove()
    size = megabytes * 1024 * 1024
    attached = start(spec(f"head -c {size} /dev/zero"))
    try:
        throughput = asyncio.run(_drain(attached, size))
    finally:
        attached.remove()
    attached = start(spec("cat"))
    try:
        trip = asyncio.run(_round_trips(attached, 200))
    finally:
        attached.remove()
    return first, throughput, trip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    client = docker.from_env()
    image = build_test_image(client)
    network = client.networks.create(f"wharf-bench-relay-{secrets.token_hex(4)}")
    runtime = DockerRuntime(client)
    with tempfile.TemporaryDirectory() as scratch, private_redis(Path(scratch)) as cache:
        redis_url = f"unix://{cache.connection_pool.connection_kwargs['path']}"
        node = secrets.token_hex(6)
        host = OneOffHost(redis_url, client, node_id=node, installation=None, statsd_port=None)
        stop = threading.Event()
        serving = threading.Thread(target=host.serve, args=(stop,))
        serving.start()
        host.listening.wait(10)
        remote = RemoteOneOffs(redis_url)
        starters: dict[str, Starter] = {
            "direct": lambda spec: runtime.start_attached(spec, tty=False),
            "relayed": lambda spec: remote.start(spec, node, "bench node", tty=False, labels={}),
        }
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in starters}
        try:
            for round_number in range(args.rounds):
                for name, start in starters.items():
                    results[name].append(_measure(start, image, network.name, args.megabytes))
                print(f"round {round_number + 1}/{args.rounds} done", flush=True)
        finally:
            stop.set()
            serving.join(30)
            network.remove()
    medians = {
        name: [statistics.median(r[i] for r in rows) for i in range(3)] for name, rows in results.items()
    }
    direct, relayed = medians["direct"], medians["relayed"]
    print(f"{'':12}{'direct':>12}{'relayed':>12}{'relayed/direct':>16}")
    for index, (label, unit) in enumerate((("start", "s"), ("output", "MB/s"), ("round trip", "ms"))):
        print(
            f"{label:12}{direct[index]:>10.3f} {unit:<3}{relayed[index]:>8.3f} {unit:<3}"
            f"{relayed[index] / direct[index]:>14.2f}"
        )


if __name__ == "__main__":
    main()
