"""Router data plane: throughput and latency through the router against direct to a dyno, same run.

Usage: .venv/bin/python bench/router_throughput.py [--dynos static,uvicorn] [--seconds 2] [--rounds 9]
       [--connections 16] [--shared] [--dyno-trusts-router]

Two kinds of "dynos", two of each: tiny nginx servers answering a static body (the router's worst case:
a dyno that costs nothing) and uvicorn hello-world apps (a Python web dyno). The load generator is wrk
(apt install wrk), with a Python fallback. By default the dynos get one CPU of their own and the router
and load generator share the others (``--shared``: everything shares every CPU).

A uvicorn dyno trusts X-Forwarded-* only from the addresses in its ``--forwarded-allow-ips`` (by default
127.0.0.1, itself). Under Wharf the router reaches a dyno's container from the app network's gateway, so
with those defaults the dyno keeps X-Forwarded-For as a plain header; here the router connects from
127.0.0.1, so the dynos are told to trust no address the benchmark has, to take the same path as under
Wharf. ``--dyno-trusts-router`` measures an app that opted in to reading the client's address from the
router (uvicorn then rewrites it from X-Forwarded-For in Python for every request).
Prints:
  - throughput through the router to a dyno / direct to that dyno, 16 connections      (target >= 0.8);
    also through the router to two dynos / direct to one (the setup of DESIGN.md), and, stricter,
    / direct to both dynos at once (8 + 8 connections)
  - p99 latency added by the router at half the direct throughput, median of ``--latency-rounds``
    pairs of paced runs                                                                (target <= 1 ms)
  - time from a route being published to the first request it serves         (target < 1 s)
  - for comparison, the bare nginx of DESIGN.md (proxy_pass with upstream keepalive, no headers or log)
    to dyno 1 on the router's CPUs / direct, and the router / that bare nginx
The router's nginx runs 1 worker, like the measurement in DESIGN.md, and its access log tailer runs
(router log lines are part of the product), so its cost is counted.

Throughput on a small shared host drifts by tens of percent from one run to the next, so each round
runs direct to dyno 1, then through the router (to dyno 1 alone, then to both), then through the bare
nginx, then direct again; the proxied runs are compared with the mean of the two direct runs around
them. There are ``--rounds`` rounds, the median of the per-round ratios is the figure, and every round
is printed as well.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from bare_proxy import bare_proxy
from http_load import LoadResult, load
from local_ports import free_port, wait_for_port

from wharf.router.controller import RouterController
from wharf.router.nginx import NginxMaster
from wharf.router.render import RouterPaths, RouterSettings
from wharf.router.routes import AppRoute, Backend, RouteTable, publish_routes

DYNO_CONF = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ default_type text/plain; return 200 "hello from {name}\\n"; }}
    }}
}}
"""


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Pin a process, its threads and its children (an nginx master's workers) to ``cpus``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)
        for child in (task / "children").read_text().split():
            pin_tree(int(child), cpus)


@contextmanager
def serving(
    processes: list[subprocess.Popen[bytes]], backends: list[Backend], cpus: set[int] | None = None
) -> Iterator[list[Backend]]:
    """Yields BACKENDS once each one listens, pinned to ``cpus`` if given; stops PROCESSES afterwards."""
    try:
        for backend in backends:
            wait_for_port(backend.port)
        if cpus:
            for process in processes:
                pin_tree(process.pid, cpus)
        yield backends
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def static_dynos(folder: Path, count: int, cpus: set[int] | None = None) -> Iterator[list[Backend]]:
    processes, backends = [], []
    for index in range(1, count + 1):
        directory, port = folder / f"dyno{index}", free_port()
        (directory / "tmp").mkdir(parents=True)
        conf = directory / "nginx.conf"
        conf.write_text(DYNO_CONF.format(dir=directory, port=port, name=f"web.{index}"))
        argv = ["nginx", "-p", str(directory), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"]
        processes.append(subprocess.Popen(argv))
        backends.append(Backend(dyno=f"web.{index}", host="127.0.0.1", port=port))
    with serving(processes, backends, cpus) as ready:
        yield ready


UVICORN_APP = """
async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"15")]})
    await send({"type": "http.response.body", "body": b"hello from web\\n"})
"""

DYNO_KINDS = {
    "static": "nginx answering a static body (the router's worst case: a dyno that costs nothing)",
    "uvicorn": "uvicorn ASGI hello-world (a Python web dyno, as the Python buildpack runs)",
}


# An RFC 5737 documentation address: none of the benchmark's processes connects from it.
UNTRUSTED_PEERS_ONLY = "192.0.2.1"


def uvicorn_argv(folder: Path, port: int, *, trust_router: bool) -> list[str]:
    """A hello-world uvicorn dyno; ``trust_router``: honour X-Forwarded-* from 127.0.0.1 (the router here)."""
    trusted = "127.0.0.1" if trust_router else UNTRUSTED_PEERS_ONLY
    return [sys.executable, "-m", "uvicorn", "dynoapp:app", "--app-dir", str(folder),
            "--host", "127.0.0.1", "--port", str(port), "--forwarded-allow-ips", trusted,
            "--no-access-log", "--log-level", "warning", "--lifespan", "off"]  # fmt: skip


@contextmanager
def uvicorn_dynos(
    folder: Path, count: int, cpus: set[int] | None = None, *, trust_router: bool = False
) -> Iterator[list[Backend]]:
    (folder / "dynoapp.py").write_text(UVICORN_APP)
    processes, backends = [], []
    for index in range(1, count + 1):
        port = free_port()
        argv = uvicorn_argv(folder, port, trust_router=trust_router)
        processes.append(subprocess.Popen(argv))
        backends.append(Backend(dyno=f"web.{index}", host="127.0.0.1", port=port))
    with serving(processes, backends, cpus) as ready:
        yield ready


def dynos(
    folder: Path, kind: str, count: int, cpus: set[int] | None, *, trust_router: bool = False
) -> contextlib.AbstractContextManager[list[Backend]]:
    if kind == "uvicorn":
        return uvicorn_dynos(folder, count, cpus, trust_router=trust_router)
    return static_dynos(folder, count, cpus)


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    sock = folder / "redis.sock"
    argv = ["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        url = f"unix://{sock}"
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        redis.Redis.from_url(url).ping()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class RunningRouter:
    controller: RouterController
    port: int


@contextmanager
def router(redis_url: str, folder: Path, workers: int | str) -> Iterator[RunningRouter]:
    state_dir = folder / "router"
    state_dir.mkdir()
    folder.chmod(0o755)
    port = free_port()
    settings = RouterSettings(http_port=port, https_port=free_port(), worker_processes=workers)
    paths = RouterPaths(state_dir)
    controller = RouterController(
        redis=redis.Redis.from_url(redis_url),
        settings=settings,
        paths=paths,
        nginx=NginxMaster(paths=paths),
        log_sink=lambda app, line: None,
    )
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,))
    thread.start()
    try:
        wait_for_port(port)
        yield RunningRouter(controller=controller, port=port)
    finally:
        stop.set()
        thread.join(timeout=30)


def route_to_traffic_seconds(
    client: redis.Redis[bytes], backends: list[Backend], port: int, rounds: int
) -> list[float]:
    """Publish a new app and time until the router serves its first request."""
    timings = []
    apps = [AppRoute(app="bench", backends=tuple(backends))]
    for index in range(rounds):
        app = f"late{index}"
        apps.append(AppRoute(app=app, backends=(backends[index % len(backends)],)))
        started = time.monotonic()
        publish_routes(client, RouteTable(generation=10 + index, apps=tuple(apps)))
        while time.monotonic() - started < 10:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/", headers={"Host": f"{app}.localhost"})
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                break
            time.sleep(0.002)
        timings.append(time.monotonic() - started)
        time.sleep(0.3)
    return timings


@dataclass
class Pair:
    """Direct to one dyno and through the router, measured back to back."""

    direct: LoadResult
    routed: LoadResult

    @property
    def ratio(self) -> float:
        return float(self.routed.rps / self.direct.rps)


@dataclass
class Figures:
    same_dyno: list[Pair]
    both_dynos: list[Pair]
    bare_same_dyno: list[Pair]
    direct_both: LoadResult
    half: list[Pair]
    light: list[Pair]
    route_seconds: list[float]


SOLO_HOST, PAIR_HOST = "solo.localhost", "bench.localhost"


def measure(kind: str, args: argparse.Namespace, folder: Path) -> Figures:
    """All figures for one kind of dyno, direct and through the router, in the same run.

    App "solo" routes to dyno 1 only, app "bench" to both dynos; each round measures dyno 1 directly,
    then through the router to dyno 1 alone, then through the router to both, then through the bare
    nginx of DESIGN.md to dyno 1 (on the router's CPUs, without Wharf's headers and log), then directly.
    """
    with (
        redis_server(folder) as redis_url,
        dynos(folder, kind, 2, args.dyno_cpus, trust_router=args.dyno_trusts_router) as backends,
        router(redis_url, folder, args.router_workers) as rt,
        bare_proxy(folder / "bare", bare_port := free_port(), backends[0].address),
    ):
        client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
        apps = (
            AppRoute(app="solo", backends=(backends[0],)),
            AppRoute(app="bench", backends=tuple(backends)),
        )
        publish_routes(client, RouteTable(generation=1, apps=apps))
        time.sleep(1.0)
        seconds, conns = args.seconds, args.connections
        ports = [b.port for b in backends]
        load([rt.port], SOLO_HOST, 1, conns, folder)
        same_dyno, both_dynos, bare_same_dyno = [], [], []
        for _ in range(args.rounds):
            before = load(ports[:1], SOLO_HOST, seconds, conns, folder)
            solo = load([rt.port], SOLO_HOST, seconds, conns, folder)
            pair = load([rt.port], PAIR_HOST, seconds, conns, folder)
            bare = load([bare_port], SOLO_HOST, seconds, conns, folder)
            direct = bracketing(before, load(ports[:1], SOLO_HOST, seconds, conns, folder))
            same_dyno.append(Pair(direct, solo))
            both_dynos.append(Pair(direct, pair))
            bare_same_dyno.append(Pair(direct, bare))
        direct_both = load(ports, PAIR_HOST, seconds, conns, folder)
        middle = median_pair(same_dyno)
        direct, routed = middle.direct, middle.routed

        def paced(rate: float) -> list[Pair]:
            """Direct and routed runs at ``rate``, back to back, ``--latency-rounds`` times."""
            return [
                Pair(
                    load(ports[:1], SOLO_HOST, seconds, conns, folder, rate=rate),
                    load([rt.port], SOLO_HOST, seconds, conns, folder, rate=rate),
                )
                for _ in range(args.latency_rounds)
            ]

        half = paced(direct.rps / 2)
        light = paced(routed.rps / 2) if routed.rps < direct.rps else []
        route_seconds = route_to_traffic_seconds(client, backends, rt.port, rounds=5)
        client.delete("wharf:routes")
    return Figures(
        same_dyno,
        both_dynos,
        bare_same_dyno,
        direct_both,
        half,
        light,
        route_seconds,
    )


def bracketing(before: LoadResult, after: LoadResult) -> LoadResult:
    """The direct baseline of a round: the mean of the runs just before and just after the routed ones."""
    return LoadResult(
        rps=(before.rps + after.rps) / 2,
        p99_ms=max(before.p99_ms, after.p99_ms),
        failed=before.failed + after.failed,
    )


def median_pair(pairs: list[Pair]) -> Pair:
    """The pair whose ratio is the median (the lower middle one for an even count)."""
    ordered = sorted(pairs, key=lambda pair: pair.ratio)
    return ordered[(len(ordered) - 1) // 2]


def _latency_lines(label: str, pairs: list[Pair], target: str) -> None:
    """Each paced round's p99s, then the median of the latency the router added."""
    print(f"at {label}:")
    for index, pair in enumerate(pairs, 1):
        direct, routed = pair.direct, pair.routed
        print(
            f"  round {index}: p99 direct {direct.p99_ms:.3f} ms ({direct.rps:.0f} req/s reached), "
            f"router {routed.p99_ms:.3f} ms ({routed.rps:.0f} req/s reached)"
        )
    added = statistics.median(pair.routed.p99_ms - pair.direct.p99_ms for pair in pairs)
    print(f"  added p99 latency:     {added:10.3f} ms   (median of {len(pairs)} rounds){target}")


def _pair_lines(label: str, pairs: list[Pair]) -> Pair:
    for index, pair in enumerate(pairs, 1):
        failed = pair.direct.failed + pair.routed.failed
        print(
            f"  round {index}: direct to dyno 1 {pair.direct.rps:8.0f} req/s, "
            f"via the router {pair.routed.rps:8.0f} req/s, ratio {pair.ratio:.2f}  (failed {failed})"
        )
    middle = median_pair(pairs)
    print(f"{label}: {middle.ratio:.2f}   (median of {len(pairs)} rounds; target >= 0.8)")
    return middle


def report(kind: str, figures: Figures) -> None:
    print(f"-- dynos: 2 x {DYNO_KINDS[kind]}")
    print("router -> dyno 1 alone, against direct to dyno 1:")
    _pair_lines("throughput ratio, same dyno", figures.same_dyno)
    print("router -> dynos 1 and 2 (the setup of DESIGN.md), against direct to dyno 1:")
    both_middle = _pair_lines("throughput ratio, two dynos", figures.both_dynos)
    bare = median_pair(figures.bare_same_dyno)
    against_bare = statistics.median(
        wharf.routed.rps / plain.routed.rps
        for wharf, plain in zip(figures.same_dyno, figures.bare_same_dyno, strict=True)
    )
    print(
        f"bare nginx of DESIGN.md -> dyno 1, against direct to dyno 1: {bare.ratio:.2f} (median of "
        f"{len(figures.bare_same_dyno)} rounds); router / bare nginx, same dyno: {against_bare:.2f}"
    )
    both = figures.direct_both
    print(
        f"direct to both dynos at once: {both.rps:8.0f} req/s; router -> both dynos / that: "
        f"{both_middle.routed.rps / both.rps:.2f}"
    )
    _latency_lines("half the direct throughput", figures.half, "; target <= 1 ms")
    if figures.light:
        _latency_lines("half the router's throughput", figures.light, "")
    timings = figures.route_seconds
    print(
        f"route published -> traffic: median {statistics.median(timings) * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms   (target < 1000 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=9, help="direct/routed rounds per kind of dyno")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--latency-rounds", type=int, default=5, help="direct/routed pairs of paced runs for the p99 figures"
    )
    parser.add_argument(
        "--router-workers", default="1", help="nginx worker_processes of the router (1 as in DESIGN.md)"
    )
    parser.add_argument(
        "--dynos", default=",".join(DYNO_KINDS), help="comma-separated: " + ", ".join(DYNO_KINDS)
    )
    parser.add_argument(
        "--shared",
        action="store_true",
        help="let dynos, router and load generator share every CPU (noisier) instead of giving the dynos one",
    )
    parser.add_argument(
        "--dyno-trusts-router",
        action="store_true",
        help="uvicorn dynos honour the router's X-Forwarded-For (an app that opted in to client addresses)",
    )
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    args.dyno_cpus = None
    if not args.shared and len(cpus) >= 2:
        # The dynos get a CPU of their own, as a dyno's CPU limit gives it on a real host; the router and
        # the load generator (children of this process) share the rest, so the router only gets what the
        # load generator leaves. Without this, where the scheduler happens to put the three processes
        # moves single runs by tens of percent.
        args.dyno_cpus = {cpus[-1]}
        os.sched_setaffinity(0, set(cpus[:-1]))
    placement = (
        "dynos, router and load generator share every CPU"
        if args.dyno_cpus is None
        else f"dynos on CPU {cpus[-1]}, router and load generator on CPU {','.join(map(str, cpus[:-1]))}"
    )
    generator = "wrk" if shutil.which("wrk") else "python (install wrk for figures comparable to DESIGN.md)"
    print(
        f"load generator: {generator}; {args.connections} connections, {args.seconds:g} s per run, "
        f"{args.rounds} rounds of direct, routed, bare nginx, direct; "
        f"{args.latency_rounds} rounds of paced runs for latency; "
        f"router nginx with {args.router_workers} worker(s) and its log tailer running; {placement}; "
        f"uvicorn dynos {'trust' if args.dyno_trusts_router else 'do not trust'} the router's X-Forwarded-For"
    )
    for kind in args.dynos.split(","):
        if kind == "uvicorn" and importlib.util.find_spec("uvicorn") is None:
            print("-- dynos: uvicorn is not installed, skipped")
            continue
        folder = Path(tempfile.mkdtemp(prefix="wharf-bench-router-"))
        folder.chmod(0o755)
        try:
            report(kind, measure(kind, args, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
