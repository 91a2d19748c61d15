"""Router data plane: user-space instructions nginx spends per routed request, Wharf's config against bare.

Usage: .venv/bin/python bench/router_instructions.py [--seconds 3]

Throughput on a small shared host moves by tens of percent from run to run; instructions counted by
valgrind's callgrind do not. The router's nginx runs under callgrind (one process, no master) in front
of a static nginx dyno while wrk sends requests over 16 keepalive connections; a second run without
load is subtracted, so start-up and config parsing do not count. Prints instructions per request for:
  - bare: ``proxy_pass`` with upstream keepalive and nothing else (the nginx measured in DESIGN.md)
  - wharf: the config the router renders (headers, request ids, error pages, Heroku-format log lines)
  - wharf without its access log: what the router log lines cost
and each as a ratio to bare. Kernel time (the socket calls, the same for every config) is not counted.
Needs valgrind and wrk (apt install valgrind wrk).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from router_throughput import free_port, static_dynos, wait_for_port

from wharf.router.render import RouterPaths, RouterSettings, new_router_instance, render_nginx_config
from wharf.router.routes import AppRoute, RouteTable

HOST = "bench.localhost"
BARE = """worker_processes 1;
pid {dir}/bare.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    upstream dynos {{ server {backend}; keepalive 64; keepalive_requests 100000; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://dynos;
        }}
    }}
}}
"""


def instructions(config: Path, port: int, seconds: float) -> tuple[int, int]:
    """(requests served, instructions executed) by nginx under callgrind for ``seconds`` of wrk."""
    out = config.with_suffix(".callgrind")
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            "nginx", "-c", str(config), "-e", "stderr", "-g", "daemon off; master_process off;"]  # fmt: skip
    nginx = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, timeout=60)
        requests = 0
        if seconds:
            url = f"http://127.0.0.1:{port}/"
            wrk = ["wrk", "-t1", "-c16", f"-d{seconds:g}s", "-H", f"Host: {HOST}", url]
            result = subprocess.run(wrk, capture_output=True, text=True, check=True)
            found = re.search(r"(\d+) requests in", result.stdout)
            if found is None:
                raise RuntimeError(f"unexpected wrk output: {result.stdout}")
            requests = int(found.group(1))
    finally:
        nginx.terminate()
        _, errors = nginx.communicate(timeout=60)
    collected = re.search(r"Collected : (\d+)", errors)
    if collected is None:
        raise RuntimeError(f"callgrind printed no total: {errors[-2000:]}")
    out.unlink(missing_ok=True)
    return requests, int(collected.group(1))


def per_request(config: Path, port: int, seconds: float) -> float:
    idle_requests, idle = instructions(config, port, 0)
    requests, loaded = instructions(config, port, seconds)
    return (loaded - idle) / max(requests - idle_requests, 1)


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
        with static_dynos(folder, 1) as (backend,):
            port = free_port()
            paths = RouterPaths(folder / "router")
            paths.create()
            table = RouteTable(generation=1, apps=(AppRoute(app="bench", backends=(backend,)),))
            settings = RouterSettings(http_port=port, https_port=free_port(), worker_processes=1)
            wharf = render_nginx_config(table, settings, paths, instance=new_router_instance())
            without_log, replaced = re.subn(r"access_log \S+ wharf[^;]*;", "access_log off;", wharf)
            assert replaced == 1, "the rendered config has no wharf access_log line"
            configs = {
                "bare": BARE.format(dir=paths.state_dir, port=port, backend=backend.address),
                "wharf": wharf,
                "wharf without its access log": without_log,
            }
            counts: dict[str, float] = {}
            for name, text in configs.items():
                config = folder / f"{name.replace(' ', '-')}.conf"
                config.write_text(text)
                counts[name] = per_request(config, port, args.seconds)
                print(
                    f"{name:30s} {counts[name]:8.0f} instructions/request  "
                    f"({counts[name] / counts['bare']:.2f} x bare)",
                    flush=True,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
