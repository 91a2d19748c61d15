"""What router metrics cost: router throughput with metrics on / off, and CPU per router log line.

Usage: env -u REDIS_URL .venv/bin/python bench/metrics_overhead.py [--seconds 4] [--rounds 15]
       [--lines 100000]

1. One router in front of a static nginx dyno, whose log sink counts router lines into router metrics
   (on) or only stores them in the app's log (off), switched between runs: the same nginx, ports and
   tailer serve both, so only the metrics differ. Each round runs off, on, on, off or on, off, off, on
   (alternately, so drift in the host's load cancels within a round and across rounds), ``--seconds``
   each under wrk; its throughput ratio is its two "on" runs' requests over its two "off" runs'. On a
   shared host other work moves requests per second by more than the few percent looked for, so each
   run also measures the router path's CPU per request (nginx master and worker, Redis, and this
   process: the access log tailer and the sink), and the round's second ratio is CPU per request off
   over on, the throughput a router path bound by its CPU would keep. Both figures are the median of
   the rounds' ratios, with its 95% bootstrap interval                         (target >= 0.97).
2. The log path alone: an access log of ``--lines`` records read by the router's tailer into the log
   sink, with and without metrics, CPU time of this process (tailer, sink and their Redis writes)
   per line; the ratio is the extra CPU per line                              (target <= 1.20).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
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
from wharf.router.logs import AccessLogTailer, RouterLogSink, deliver_records
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
def router(redis_url: str, folder: Path, sink: RouterLogSink) -> Iterator[tuple[int, NginxMaster]]:
    state_dir = folder
    state_dir.mkdir()
    port = free_port()
    paths = RouterPaths(state_dir)
    nginx = NginxMaster(paths=paths)
    controller = RouterController(
        redis=redis.Redis.from_url(redis_url),
        settings=RouterSettings(http_port=port, https_port=free_port(), worker_processes=1),
        paths=paths,
        nginx=nginx,
        log_sink=sink,
    )
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,))
    thread.start()
    try:
        wait_for_port(port)
        yield port, nginx
    finally:
        stop.set()
        thread.join(timeout=30)


class SwitchedSink:
    """The router's log sink with metrics switched on or off between runs."""

    def __init__(self, off: RouterLogSink, on: RouterLogSink) -> None:
        self.off, self.on, self.metered = off, on, False

    def __call__(self, app: str, line: str) -> None:
        (self.on if self.metered else self.off)(app, line)

    def deliver_many(self, records: Sequence[tuple[str, str]]) -> None:
        deliver_records(self.on if self.metered else self.off, records)


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU of process PID so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def router_path_pids(master: int, redis_pid: int) -> list[int]:
    """The router's nginx master and workers, and the Redis the log sink and metrics write to."""
    workers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(stat[1]) == master:
                workers.append(int(entry.name))
    return [master, *workers, redis_pid]


def router_path_cpu(pids: Sequence[int]) -> float:
    """CPU seconds of the router path so far: nginx and Redis, and this process (the access log tailer
    and the sink; wrk runs in processes of its own)."""
    return time.process_time() + sum(process_cpu_seconds(pid) for pid in pids)


def median_interval(ratios: Sequence[float], resamples: int = 2000) -> tuple[float, float]:
    """The 95% bootstrap interval of the median of RATIOS (seeded, so a run's figures repeat)."""
    pick = random.Random(19)
    medians = sorted(statistics.median(pick.choices(ratios, k=len(ratios))) for _ in range(resamples))
    return medians[int(resamples * 0.025)], medians[int(resamples * 0.975) - 1]


def throughput(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    off_sink, _, _ = sink_for(redis_url, metered=False)
    on_sink, _, metrics = sink_for(redis_url, metered=True)
    sink = SwitchedSink(off_sink, on_sink)
    folder.mkdir(mode=0o755)
    folder.parent.chmod(0o755)
    with static_dynos(folder, 1) as backends, router(redis_url, folder / "router", sink) as (port, nginx):
        client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
        routes = RouteTable(generation=1, apps=(AppRoute(app="bench", backends=tuple(backends)),))
        publish_routes(client, routes)
        time.sleep(1.5)
        assert nginx.master_pid is not None
        pids = router_path_pids(nginx.master_pid, int(client.info("server")["process_id"]))

        def run(metered: bool) -> tuple[float, float]:
            """Requests per second, and router path CPU microseconds per request."""
            sink.metered = metered
            began = router_path_cpu(pids)
            rps = load([port], HOST, args.seconds, 16, folder).rps
            time.sleep(0.5)  # the tailer catches up on the run's lines under the run's setting
            return rps, (router_path_cpu(pids) - began) / (rps * max(1, round(args.seconds))) * 1e6

        run(True)
        run(False)
        ratios, cpu_ratios = [], []
        for index in range(args.rounds):
            order = (False, True, True, False) if index % 2 == 0 else (True, False, False, True)
            runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            for metered in order:
                runs[metered].append(run(metered))
            rps = {metered: [r for r, _ in runs[metered]] for metered in runs}
            cpu = {metered: statistics.mean(c for _, c in runs[metered]) for metered in runs}
            ratios.append(sum(rps[True]) / sum(rps[False]))
            cpu_ratios.append(cpu[False] / cpu[True])
            print(
                f"  round {index + 1}: off {'/'.join(f'{r:.0f}' for r in rps[False])} rps "
                f"{cpu[False]:.0f} us/request, on {'/'.join(f'{r:.0f}' for r in rps[True])} rps "
                f"{cpu[True]:.0f} us/request; throughput {ratios[-1]:.3f}, CPU off/on {cpu_ratios[-1]:.3f}"
            )
        figures = (
            ("router throughput, metrics on / off", ratios),
            ("router throughput from CPU per request, metrics off / on", cpu_ratios),
        )
        for name, values in figures:
            low, high = median_interval(values)
            print(
                f"{name}: {statistics.median(values):.3f} "
                f"(median of {len(values)} rounds, 95% interval {low:.3f}-{high:.3f}) (target >= 0.97)"
            )
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
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with redis_server(folder) as redis_url:
            cpu_per_line(args, folder, redis_url)
            throughput(args, folder / "routers", redis_url)


if __name__ == "__main__":
    main()
