"""Chaos tests' tools: load through the router counting failures, the processes of a `wharfd up`, and an
app pushed to a private `wharfd up` for one test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from tests.utils.e2e import Developer, new_developer, remove_app_containers, take_routers_down
from tests.utils.wharfd_up import WharfdUp, push_new_app, wait_until_served


@dataclass
class Load:
    """Clients requesting the app through the router without keep-alive, counting what failed."""

    url: str
    host: str
    clients: int = 4
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    # When each failed request was sent (time.monotonic()), in the order of `failures`.
    failed_at: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self) -> None:
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                answer = httpx.get(self.url, headers={"Host": self.host, "Connection": "close"}, timeout=10)
                failure = None if answer.status_code == 200 else f"status {answer.status_code}"
            except httpx.HTTPError as error:
                failure = f"{type(error).__name__}: {error}"
            with self._lock:
                if failure is None:
                    self.answered += 1
                else:
                    self.failures.append(failure)
                    self.failed_at.append(sent)
            time.sleep(0.01)

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def failures_since(self, moment: float) -> list[str]:
        """The failures of requests sent after `moment` (time.monotonic())."""
        with self._lock:
            return [f for f, at in zip(self.failures, self.failed_at, strict=True) if at > moment]

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self.answered, len(self.failures)

    def until_answered(self, answers: int = 300, timeout: float = 60.0) -> None:
        """On a busy host, load on until there is enough to show something."""
        deadline = time.monotonic() + timeout
        while self.counts()[0] < answers and time.monotonic() < deadline:
            time.sleep(0.5)

    def assert_none_failed(self, what: str) -> None:
        """Print the counts after WHAT; none failed, with enough answers to show it."""
        answered, failed = self.counts()
        print(f"{what}: {answered} answered, {failed} failed")
        assert answered > 200, f"too little load to show anything: {answered} answers"
        assert failed == 0, f"{failed} of {answered + failed} requests failed: {self.failures[:5]}"


def private_redis(server: WharfdUp) -> redis.Redis[bytes]:
    """A client of the `wharfd up`'s private Redis, on its socket."""
    return redis.Redis(unix_socket_path=str(server.wharf.data_dir / "redis" / "redis.sock"), socket_timeout=5)


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wharfd_processes(root: int) -> list[int]:
    """Every process of the control plane (Python components and the private redis-server), not nginx."""
    return [
        pid
        for pid in process_tree(root)
        if b"wharf.platform" in cmdline(pid) or b"redis-server" in cmdline(pid)
    ]


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[tuple[WharfdUp, Developer, str]]:
    data_dir = tmp_path / "wharf-data"
    data_dir.mkdir()
    server = WharfdUp(data_dir)
    server.start()
    try:
        developer = new_developer(server.wharf, tmp_path)
        app = push_new_app(developer, "procfile_only", tmp_path)
        wait_until_served(server.wharf, app, 60)
        yield server, developer, app
    finally:
        server.stop()
        take_routers_down(server.wharf.env)
        remove_app_containers(f"sqlite:///{data_dir / 'wharf.db'}")
