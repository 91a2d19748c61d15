"""Helpers shared by fixtures and tests: free ports, waiting for a server, a browser-like HTTP client."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Every setting naming a port a `wharfd up` (or its node agents) listens on.
WHARFD_PORT_SETTINGS = (
    "WHARF_API_PORT",
    "WHARF_HTTP_PORT",
    "WHARF_HTTPS_PORT",
    "WHARF_SSH_PORT",
    "WHARF_STATSD_PORT",
    "WHARF_NODE_STATSD_PORT",
    "WHARF_WAKER_PORT",
)


def wharfd_ports() -> dict[str, str]:
    """A free port for each listener of a `wharfd up`: a default one held by another install on this
    host (the session's, say) would make `wharfd up` refuse to start."""
    return {setting: str(free_port()) for setting in WHARFD_PORT_SETTINGS}


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class KeepaliveClient:
    """GETs over one keepalive connection, as a browser sends them.

    A reused idle connection that the server closes before answering (nginx closes idle connections
    when a reload retires a worker) is retried once on a new connection, as RFC 9110 allows for
    idempotent requests; ``stale_retries`` counts those. Any other error, or one on a new connection,
    is raised.
    """

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.stale_retries = 0

    def get(self, host: str, path: str = "/") -> tuple[int, bytes]:
        reused = self.connection.sock is not None
        try:
            return self._get(host, path)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            self.stale_retries += 1
        return self._get(host, path)

    def _get(self, host: str, path: str) -> tuple[int, bytes]:
        try:
            self.connection.request("GET", path, headers={"Host": host})
            answer = self.connection.getresponse()
            return answer.status, answer.read()
        except OSError:
            self.connection.close()
            raise

    def close(self) -> None:
        self.connection.close()
