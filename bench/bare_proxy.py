"""The nginx measured in DESIGN.md: ``proxy_pass`` with upstream keepalive and nothing else.

The benchmarks run it beside Wharf's router as the floor of an nginx data plane on the same host.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


def bare_config(directory: Path, port: int, backend: str) -> str:
    """BARE on ``port`` in front of ``backend`` ("host:port"); DIRECTORY holds its pid and temp files."""
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    return BARE.format(dir=directory, port=port, backend=backend)


def nginx_argv(config: Path) -> list[str]:
    """One nginx process, no master, in the foreground."""
    return ["nginx", "-c", str(config), "-e", "stderr", "-g", "daemon off; master_process off;"]


@contextmanager
def bare_proxy(directory: Path, port: int, backend: str) -> Iterator[None]:
    """BARE running on ``port`` until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "bare.conf"
    config.write_text(bare_config(directory, port, backend))
    process = subprocess.Popen(nginx_argv(config))
    try:
        deadline = time.monotonic() + 10
        while process.poll() is None and not (directory / "bare.pid").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the bare nginx did not start")
            time.sleep(0.02)
        if process.poll() is not None:
            raise RuntimeError(f"the bare nginx exited with {process.returncode}")
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
