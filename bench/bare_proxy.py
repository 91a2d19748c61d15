"""The nginx measured in DESIGN.md: ``proxy_pass`` with upstream keepalive and nothing else.

The benchmarks run it beside Wharf's router as the floor of an nginx data plane on the same host.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local_ports import wait_for_port

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
def nginx_running(config: Path, port: int) -> Iterator[None]:
    """nginx with CONFIG serving on ``port`` until the block ends."""
    process = subprocess.Popen(nginx_argv(config))
    try:
        wait_for_port(port)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def bare_proxy(directory: Path, port: int, backend: str) -> contextlib.AbstractContextManager[None]:
    """BARE running on ``port`` until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "bare.conf"
    config.write_text(bare_config(directory, port, backend))
    return nginx_running(config, port)
