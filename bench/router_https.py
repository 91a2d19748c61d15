"""Router over HTTPS against the same router over plain HTTP, same run: throughput, added p99, handshakes.

Usage: .venv/bin/python bench/router_https.py [--seconds 3] [--rounds 5] [--connections 16]

One router (nginx, 1 worker, its log tailer running) serves one app on two static nginx dynos, on HTTP
and on HTTPS with a leaf from Wharf's local authority (ECDSA P-256, TLS 1.3, HTTP/1.1 to match wrk).
Each round runs HTTP, then HTTPS, then HTTP again; the HTTPS run is compared with the mean of the two
HTTP runs around it, and the median of the per-round ratios is the figure. Prints:
  - keep-alive throughput over HTTPS / over HTTP, ``--connections`` connections (wrk)
  - p99 latency added by TLS at half the HTTP throughput (paced runs)
  - a new connection per request with TLS session resumption (tickets and the shared session cache on,
    as the router configures them) / a new plain connection per request, and the share of resumed
    handshakes
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from http_load import LoadResult, parse_wrk
from local_ports import free_port, wait_for_port
from router_throughput import redis_server, static_dynos

from wharf.platform.security.authority import ensure_authority
from wharf.platform.security.leaves import LocalCertificates
from wharf.router.controller import RouterController
from wharf.router.nginx import NginxMaster
from wharf.router.render import RouterPaths, RouterSettings
from wharf.router.routes import AppRoute, Backend, RouteTable, publish_routes

# wrk resolves the URL's host itself and sends it as SNI: "localhost" is the one name that resolves
# here, so the app answers under it (a custom hostname with a local leaf, as a default hostname gets).
HOST = "localhost"
REQUEST = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


@contextmanager
def https_router(redis_url: str, folder: Path, backends: list[Backend]) -> Iterator[RouterSettings]:
    authority = ensure_authority(folder / "data")
    leaves = LocalCertificates(intermediate=authority.intermediate, folder=folder / "data" / "leaves")
    settings = RouterSettings(http_port=free_port(), https_port=free_port(), worker_processes=1)
    paths = RouterPaths(folder / "router")
    client = redis.Redis.from_url(redis_url)
    controller = RouterController(
        redis=client,
        settings=settings,
        paths=paths,
        nginx=NginxMaster(paths=paths),
        log_sink=lambda app, line: None,
    )
    cert = leaves.certificates([HOST])[HOST]
    publish_routes(
        client,
        RouteTable(
            generation=1,
            apps=(AppRoute(app="bench", hostnames=(HOST,), backends=tuple(backends), tls=(cert,)),),
        ),
    )
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,))
    thread.start()
    try:
        wait_for_port(settings.http_port)
        wait_for_port(settings.https_port)
        deadline = time.monotonic() + 20
        while new_connections(settings.http_port, 0.0, 1, None)[0] == 0.0 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield settings
    finally:
        stop.set()
        thread.join(timeout=30)


def wrk(url: str, seconds: float, connections: int, folder: Path, rate: float | None = None) -> LoadResult:
    script = folder / "bench.lua"
    lines = [f'wrk.headers["Host"] = "{HOST}"']
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
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr.strip() or result.stdout.strip()}")
    return parse_wrk(result.stdout)


def new_connections(port: int, seconds: float, workers: int, root: Path | None) -> tuple[float, float]:
    """Requests per second with a new connection each, and the share of TLS handshakes resumed."""
    done, resumed, stop = [0], [0], time.monotonic() + seconds
    lock = threading.Lock()

    def client() -> None:
        context = ssl.create_default_context(cafile=str(root)) if root else None
        session: ssl.SSLSession | None = None
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            except ConnectionRefusedError:
                if seconds == 0.0:
                    return
                raise
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=HOST, session=session)
            sock.sendall(REQUEST)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer[:40]
            with lock:
                done[0] += 1
                if isinstance(sock, ssl.SSLSocket):
                    resumed[0] += bool(sock.session_reused)
                    session = sock.session
            sock.close()
            if time.monotonic() >= stop:
                return

    threads = [threading.Thread(target=client) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / max(seconds, 1e-9), resumed[0] / max(done[0], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("router_https: needs wrk (apt install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="wharf-bench-https-"))
    folder.chmod(0o755)
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path) -> None:
    with (
        redis_server(folder) as redis_url,
        static_dynos(folder, 2) as backends,
        https_router(redis_url, folder, backends) as settings,
    ):
        http_url = f"http://127.0.0.1:{settings.http_port}/"
        https_url = f"https://{HOST}:{settings.https_port}/"
        root = folder / "data" / "ca" / "root.crt"
        print(
            f"wrk, {args.connections} keep-alive connections, {args.seconds:g} s per run, {args.rounds} "
            f"rounds of HTTP, HTTPS, HTTP; router nginx with 1 worker; {os.cpu_count()} CPUs shared"
        )
        ratios, added = [], []
        for number in range(1, args.rounds + 1):
            before = wrk(http_url, args.seconds, args.connections, folder)
            tls = wrk(https_url, args.seconds, args.connections, folder)
            after = wrk(http_url, args.seconds, args.connections, folder)
            plain = (before.rps + after.rps) / 2
            ratios.append(tls.rps / plain)
            rate = plain / 2
            paced_plain = wrk(http_url, args.seconds, args.connections, folder, rate)
            paced_tls = wrk(https_url, args.seconds, args.connections, folder, rate)
            added.append(paced_tls.p99_ms - paced_plain.p99_ms)
            failed = before.failed + tls.failed + after.failed + paced_plain.failed + paced_tls.failed
            print(
                f"  round {number}: HTTP {plain:8.0f} req/s, HTTPS {tls.rps:8.0f} req/s "
                f"({ratios[-1]:.2f}); p99 at {rate:.0f} req/s: HTTP {paced_plain.p99_ms:.2f} ms, HTTPS "
                f"{paced_tls.p99_ms:.2f} ms; failed {failed}"
            )
        print(
            f"keep-alive throughput HTTPS / HTTP: {statistics.median(ratios):.2f} (median of {args.rounds})"
        )
        print(f"p99 added by TLS at half the HTTP throughput: {statistics.median(added):+.2f} ms")
        plain_rps, _ = new_connections(settings.http_port, args.seconds, 4, None)
        tls_rps, reused = new_connections(settings.https_port, args.seconds, 4, root)
        print(
            f"new connection per request, 4 clients: HTTP {plain_rps:.0f} req/s, HTTPS {tls_rps:.0f} req/s, "
            f"ratio {tls_rps / plain_rps:.2f}; {reused:.0%} of TLS handshakes resumed"
        )


if __name__ == "__main__":
    main()
