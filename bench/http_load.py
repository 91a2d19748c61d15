"""HTTP load generation for the benchmarks: wrk (apt install wrk) when present, else a Python fallback.

``load`` splits the connections over several ports at once (one generator per port) and adds up
the results; with ``rate`` each connection is paced so that the total approaches that many
requests per second (wrk paces in whole milliseconds, so the rate reached is printed by callers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LoadResult:
    rps: float
    p99_ms: float
    failed: int


async def _python_connection(
    port: int, request: bytes, deadline: float, interval: float | None, latencies: list[float]
) -> int:
    """One keepalive connection sending requests back to back, or paced at ``interval`` seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failed, next_send = 0, time.monotonic()
    while time.monotonic() < deadline:
        if interval:
            next_send += interval
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        latencies.append(time.perf_counter() - started)
        failed += head[9:12] != b"200"
    writer.close()
    return failed


def python_load(port: int, host: str, seconds: float, connections: int, rate: float | None) -> LoadResult:
    """Fallback load generator when wrk is missing; slower than wrk, so figures are lower overall."""
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    latencies: list[float] = []
    interval = connections / rate if rate else None

    async def run() -> int:
        deadline = time.monotonic() + seconds
        tasks = [_python_connection(port, request, deadline, interval, latencies) for _ in range(connections)]
        return sum(await asyncio.gather(*tasks))

    failed = asyncio.run(run())
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return LoadResult(rps=len(latencies) / seconds, p99_ms=p99, failed=failed)


def parse_wrk(output: str) -> LoadResult:
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = int(errors.group(1)) if errors else 0
    failed += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return LoadResult(rps=rps, p99_ms=p99_ms, failed=failed)


def wrk_load(
    port: int, host: str, seconds: float, connections: int, rate: float | None, folder: Path, threads: int
) -> LoadResult:
    script = folder / f"load-{port}.lua"
    lines = [f'wrk.headers["Host"] = "{host}"']
    if rate:
        mean_ms = connections / rate * 1000
        low = int(mean_ms)
        lines.append(
            f"function delay() if math.random() < {mean_ms - low:.3f} then return {low + 1} end "
            f"return {low} end"
        )
    script.write_text("\n".join(lines) + "\n")
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def load(
    ports: list[int], host: str, seconds: float, connections: int, folder: Path, rate: float | None = None
) -> LoadResult:
    """Load split evenly over ``ports`` at once (one generator each); rates and failures add up."""
    share = connections // len(ports)
    # Two wrk threads in all, no more than the CPUs this process may use (more would only take turns).
    threads = max(1, min(2, len(os.sched_getaffinity(0))) // len(ports))
    share_rate = rate / len(ports) if rate else None
    with concurrent.futures.ThreadPoolExecutor(len(ports)) as pool:
        runs = [
            pool.submit(_load_one, port, host, seconds, share, folder, share_rate, threads) for port in ports
        ]
        results = [run.result() for run in runs]
    return LoadResult(
        rps=sum(r.rps for r in results),
        p99_ms=max(r.p99_ms for r in results),
        failed=sum(r.failed for r in results),
    )


def _load_one(
    port: int, host: str, seconds: float, connections: int, folder: Path, rate: float | None, threads: int
) -> LoadResult:
    if shutil.which("wrk"):
        return wrk_load(port, host, seconds, connections, rate, folder, threads)
    return python_load(port, host, seconds, connections, rate)
