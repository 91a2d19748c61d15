"""What router metrics cost: router throughput with metrics on / off, and CPU per router log line.

Usage: .venv/bin/python bench/metrics_overhead.py [--seconds 2] [--rounds 7] [--lines 100000]

1. Two routers on one host, each in front of the same static nginx dyno: one whose log sink only
   stores router lines in the app's log (metrics off), one whose sink also counts them into router
   metrics (on). Rounds alternate off, on, off and compare "on" with the mean of the two "off" runs
   around it; the median of the rounds' ratios is the figure                 (target >= 0.97).
2. The log path alone: an access log of ``--lines`` records read by the router's tailer into the log
   sink, with and without metrics, CPU time of this process (tailer, sink and their Redis writes)
   per line; the ratio is the extra CPU per line                              (target <= 1.20).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from http_load import load
from local_ports import free_port, wait_for_port
from router_throughput import redis_server, static_dynos

from wharf.platform.logs.stream import BatchingSink, router_log_sink
from wharf.platform.metrics.router import MeteredSink, RouterMetrics
from wharf.platform.metrics.store import MetricsStore
from wharf.router.controller import RouterController
from wharf.router.logs import AccessLogTailer, RouterLogSink
from wharf.router.nginx import NginxMaster
from wharf.router.render import RouterPaths, RouterSettings
from wharf.router.routes import AppRoute, RouteTable, publish_routes

HOST = "bench.localhost"
RECORD = (
    'bench\tat=info code= desc="" method=GET path="/items/{n}" host=bench.localhost request_id={n} '
    'fwd="127.0.0.1" dyno=web.1 connect=0ms service={ms}ms status=200 bytes=212 protocol=http\n'
)


def sink_for(redis_url: str, metered: bool) -> tuple[RouterLogSink, BatchingSink, RouterMetrics | None]:
    """The router's log sink as wharfd builds it, with metrics or without; and its parts, to flush."""
    base = router_log_sink(redis_url)
    if not metered:
        return base, base, None
    metrics = RouterMetrics(MetricsStore(redis.Redis.from_url(redis_url)))
    metrics.start()
    return MeteredSink(base, metrics), base, metrics


@contextmanager
def router(redis_url: str, folder: Path, sink: RouterLogSink) -> Iterator[int]:
    state_dir = folder
    state_dir.mkdir()
    port = free_port()
    paths = RouterPaths(state_dir)
    controller = RouterController(
        redis=redis.Redis.from_url(redis_url),
        settings=RouterSettings(http_port=port, https_port=free_port(), worker_processes=1),
        paths=paths,
        nginx=NginxMaster(paths=paths),
        log_sink=sink,
    )
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,))
    thread.start()
    try:
        wait_for_port(port)
        yield port
    finally:
        stop.set()
        thread.join(timeout=30)


def throughput(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    off_sink, _, _ = sink_for(redis_url, metered=False)
    on_sink, _, metrics = sink_for(redis_url, metered=True)
    folder.mkdir(mode=0o755)
    folder.parent.chmod(0o755)
    with (
        static_dynos(folder, 1) as backends,
        router(redis_url, folder / "off", off_sink) as off_port,
        router(redis_url, folder / "on", on_sink) as on_port,
    ):
        client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
        routes = RouteTable(generation=1, apps=(AppRoute(app="bench", backends=tuple(backends)),))
        publish_routes(client, routes)
        time.sleep(1.5)
        load([on_port], HOST, 1, 16, folder)
        load([off_port], HOST, 1, 16, folder)
        ratios = []
        for index in range(args.rounds):
            before = load([off_port], HOST, args.seconds, 16, folder)
            during = load([on_port], HOST, args.seconds, 16, folder)
            after = load([off_port], HOST, args.seconds, 16, folder)
            ratio = during.rps / ((before.rps + after.rps) / 2)
            ratios.append(ratio)
            print(
                f"  round {index + 1}: off {before.rps:.0f}/{after.rps:.0f} rps, "
                f"on {during.rps:.0f} rps, {ratio:.3f}"
            )
        print(f"router throughput, metrics on / off: {statistics.median(ratios):.3f} (target >= 0.97)")
    if metrics is not None:
        metrics.close()


def cpu_per_line(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    log = folder / "access.log"
    results: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(3):
        for metered in (False, True):
            log.write_text("")
            sink, base, metrics = sink_for(redis_url, metered)
            tailer = AccessLogTailer(log, sink)
            tailer.poll()
            with log.open("a") as out:
                out.writelines(RECORD.format(n=n, ms=1 + n % 300) for n in range(args.lines))
            began = time.process_time()
            while tailer.poll():
                pass
            base.flush()
            if metrics is not None:
                metrics.flush()
            results[metered].append((time.process_time() - began) / args.lines * 1e6)
            if metrics is not None:
                metrics.close()
    off, on = statistics.median(results[False]), statistics.median(results[True])
    print(f"log path CPU per line: {off:.1f} us without metrics, {on:.1f} us with")
    print(f"log path CPU per line, with / without metrics: {on / off:.3f} (target <= 1.20)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with redis_server(folder) as redis_url:
            cpu_per_line(args, folder, redis_url)
            throughput(args, folder / "routers", redis_url)


if __name__ == "__main__":
    main()
