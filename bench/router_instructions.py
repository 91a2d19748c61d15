"""Router data plane: user-space instructions per routed request, in the router and in the dyno.

Usage: .venv/bin/python bench/router_instructions.py [--seconds 3]

Throughput on a small shared host moves by tens of percent from run to run; instructions counted by
valgrind's callgrind do not. The router's nginx runs under callgrind (one process, no master) in front
of a static nginx dyno while wrk sends requests over 16 keepalive connections; a second run without
load is subtracted, so start-up and config parsing do not count. Prints instructions per request for:
  - bare: ``proxy_pass`` with upstream keepalive and nothing else (the nginx measured in DESIGN.md)
  - wharf: the config the router renders (headers, request ids, error pages, Heroku-format log lines)
  - wharf without its access log: what the router log lines cost
and each as a ratio to bare. Kernel time (the socket calls, the same for every config) is not counted.

Being routed also costs the dyno: it parses the headers the router adds. The second part runs a
uvicorn hello-world dyno under callgrind, requested by wrk directly and through the router's rendered
config, and prints the dyno's instructions per request, first as a Wharf dyno runs by default (uvicorn
does not trust the router's address, so X-Forwarded-For stays a header), then for an app that trusts
the router (uvicorn rewrites the client address from X-Forwarded-For for every request).
Needs valgrind and wrk (apt install valgrind wrk); the second part needs uvicorn.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bare_proxy import bare_config, nginx_argv, nginx_running
from local_ports import free_port, wait_for_port
from router_throughput import UVICORN_APP, static_dynos, uvicorn_argv

from wharf.router.render import RouterPaths, RouterSettings, new_router_instance, render_nginx_config
from wharf.router.routes import AppRoute, Backend, RouteTable

HOST = "bench.localhost"


def wrk_requests(port: int, seconds: float) -> int:
    """Requests wrk completed in ``seconds`` over 16 keepalive connections to ``port``."""
    url = f"http://127.0.0.1:{port}/"
    wrk = ["wrk", "-t1", "-c16", f"-d{seconds}s", "-H", f"Host: {HOST}", url]
    result = subprocess.run(wrk, capture_output=True, text=True, check=True)
    found = re.search(r"(\d+) requests in", result.stdout)
    if found is None:
        raise RuntimeError(f"unexpected wrk output: {result.stdout}")
    return int(found.group(1))


def one_request(port: int) -> int:
    """Send one request to ``port`` and wait for its answer; returns the count, 1."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", "/", headers={"Host": HOST})
        connection.getresponse().read()
    finally:
        connection.close()
    return 1


def instructions(program: list[str], port: int, load_port: int, seconds: float, out: Path) -> tuple[int, int]:
    """(requests served, instructions executed) by PROGRAM under callgrind, once it listens on ``port``,
    while wrk sends requests to ``load_port`` for ``seconds`` (for 0, one request to ``port``)."""
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *program]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, timeout=120)
        # Even the run without load waits for one answer: nginx listens before it enters its event loop,
        # and a SIGTERM that lands in between only sets a flag that nothing reads while nginx sleeps.
        requests = wrk_requests(load_port, seconds) if seconds else one_request(port)
    finally:
        process.terminate()
        try:
            _, errors = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    collected = re.search(r"Collected : (\d+)", errors)
    if collected is None:
        raise RuntimeError(f"callgrind printed no total: {errors[-2000:]}")
    out.unlink(missing_ok=True)
    return requests, int(collected.group(1))


def per_request(program: list[str], port: int, load_port: int, seconds: float, out: Path) -> float:
    """Instructions per request, start-up and shutdown taken out by a run without load."""
    idle_requests, idle = instructions(program, port, port, 0, out)
    requests, loaded = instructions(program, port, load_port, seconds, out)
    return (loaded - idle) / max(requests - idle_requests, 1)


def render_router(folder: Path, port: int, backend: Backend) -> str:
    """The config Wharf's router renders for one app with one dyno, listening on ``port``."""
    paths = RouterPaths(folder / "router")
    paths.create()
    table = RouteTable(generation=1, apps=(AppRoute(app="bench", backends=(backend,)),))
    settings = RouterSettings(http_port=port, https_port=free_port(), worker_processes=1)
    return render_nginx_config(table, settings, paths, instance=new_router_instance())


def router_part(folder: Path, seconds: float) -> None:
    print("-- the router's nginx in front of a static nginx dyno")
    with static_dynos(folder, 1) as (backend,):
        port = free_port()
        wharf = render_router(folder, port, backend)
        without_log, replaced = re.subn(r"access_log \S+ wharf[^;]*;", "access_log off;", wharf)
        assert replaced == 1, "the rendered config has no wharf access_log line"
        configs = {
            "bare": bare_config(folder / "bare", port, backend.address),
            "wharf": wharf,
            "wharf without its access log": without_log,
        }
        counts: dict[str, float] = {}
        for name, text in configs.items():
            config = folder / f"{name.replace(' ', '-')}.conf"
            config.write_text(text)
            counts[name] = per_request(nginx_argv(config), port, port, seconds, config.with_suffix(".cg"))
            print(
                f"{name:30s} {counts[name]:8.0f} instructions/request  "
                f"({counts[name] / counts['bare']:.2f} x bare)",
                flush=True,
            )


def dyno_part(folder: Path, seconds: float) -> None:
    print("-- a uvicorn dyno, requested directly and through the router")
    (folder / "dynoapp.py").write_text(UVICORN_APP)
    dyno_port, router_port = free_port(), free_port()
    dyno = Backend(dyno="web.1", host="127.0.0.1", port=dyno_port)
    config = folder / "router-to-uvicorn.conf"
    config.write_text(render_router(folder, router_port, dyno))
    out = folder / "uvicorn.cg"
    with nginx_running(config, router_port):
        for trust_router, label in ((False, "as a Wharf dyno runs"), (True, "trusting the router")):
            program = uvicorn_argv(folder, dyno_port, trust_router=trust_router)
            direct = per_request(program, dyno_port, dyno_port, seconds, out)
            routed = per_request(program, dyno_port, router_port, seconds, out)
            print(
                f"{label:22s} direct {direct:8.0f}, routed {routed:8.0f} instructions/request  "
                f"({routed / direct:.2f} x direct)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    missing = [tool for tool in ("valgrind", "wrk", "nginx") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"needs {', '.join(missing)} (apt install {' '.join(missing)})")
    folder = Path(tempfile.mkdtemp(prefix="wharf-bench-instructions-"))
    folder.chmod(0o755)
    try:
        router_part(folder, args.seconds)
        if importlib.util.find_spec("uvicorn") is None:
            print("-- uvicorn is not installed: the dyno part is skipped")
        else:
            dyno_part(folder, args.seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
