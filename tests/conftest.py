"""Shared fixtures: a real Redis, real databases (SQLite and PostgreSQL) and a live `wharfd api` process."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis

from tests.utils.e2e import developer, wharf
from tests.utils.network import REPO_ROOT, free_port, wait_for_http
from wharf.platform.actions.invites import create_invite
from wharf.platform.db import get_engine, session_scope
from wharf.platform.migrate import upgrade_database

if TYPE_CHECKING:
    from tests.utils.test_host import DockerTestHost
    from wharf.platform.runtime.swarm_runtime import SwarmRuntime

# Shared by every folder of tests: one `wharfd up` per session, and developers pushing to it.
__all__ = ["REPO_ROOT", "developer", "free_port", "wait_for_http", "wharf"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when given (CI starts redis-server), else a private redis-server on a socket."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run scripts/install.sh or set REDIS_URL")
    sock = tmp_path_factory.mktemp("redis") / "redis.sock"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(sock))
    for _ in range(200):
        try:
            client.ping()
            break
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    yield f"unix://{sock}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis[bytes]]:
    """A real Redis, flushed before each test (as rq's own tests do)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


def _postgres_admin_url() -> str | None:
    url = os.environ.get("WHARF_TEST_POSTGRES_URL")
    if url is None and os.environ.get("CI"):
        pytest.fail(
            "WHARF_TEST_POSTGRES_URL is not set: CI must test against PostgreSQL (see scripts/test.sh)"
        )
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty control-plane database on each supported engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'wharf.db'}"
        upgrade_database(url)
        yield url
        return
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("set WHARF_TEST_POSTGRES_URL to test against PostgreSQL")
    name = f"wharf_test_{secrets.token_hex(4)}"
    admin = get_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    from sqlalchemy import text

    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class LiveServer:
    url: str
    database_url: str
    redis_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    invites: list[str] = field(default_factory=list)

    def make_invite(self, *, uses: int = 1, admin: bool = False, expires_in_days: float | None = None) -> str:
        with session_scope(self.database_url) as session:
            return create_invite(
                session=session,
                created_by=None,
                max_uses=uses,
                grants_admin=admin,
                expires_in_days=expires_in_days,
            ).code

    @property
    def admin_invite(self) -> str:
        return self.make_invite(admin=True)

    def signup(self, email: str | None = None, password: str = "correct horse battery") -> tuple[str, str]:
        """A new account; returns (email, token)."""
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        answer = httpx.post(
            f"{self.url}/api/signup",
            json={"invite": self.make_invite(), "email": email, "password": password},
        )
        answer.raise_for_status()
        return email, str(answer.json()["token"])


def api_env(database_url: str, redis_url: str, data_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment of a test `wharfd api` on the fake runtime; OVERRIDES set its other settings."""
    env = dict(os.environ)
    env.update(
        WHARF_DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        WHARF_SECRET_KEY=secrets.token_hex(32),
        WHARF_API_PORT=str(port),
        WHARF_API_HOST="127.0.0.1",
        WHARF_ENV="test",
        WHARF_RUNTIME="fake",
    )
    env.update(overrides)
    return env


@contextlib.contextmanager
def running_api(database_url: str, redis_url: str, data_dir: Path, **overrides: str) -> Iterator[LiveServer]:
    """A real `wharfd api` process on a free port, its output in DATA_DIR/api.log; stopped afterwards."""
    port = free_port()
    env = api_env(database_url, redis_url, data_dir, port, **overrides)
    with (data_dir / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wharf.platform.wharfd", "api"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(f"{url}/api/health", process=process)
        except RuntimeError:
            process.kill()
            print((data_dir / "api.log").read_text())
            raise
        yield LiveServer(
            url=url,
            database_url=database_url,
            redis_url=redis_url,
            data_dir=data_dir,
            env=env,
            process=process,
        )
    finally:
        process.terminate()
        process.wait(timeout=15)


def redis_database(redis_url: str, number: int) -> str:
    """Another database of REDIS_URL's server (`redis://host:port/N` or `unix://path?db=N`)."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = [item for item in parts.query.split("&") if item and not item.startswith("db=")]
        return f"unix://{parts.path}?{'&'.join([*query, f'db={number}'])}"
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture(scope="session")
def live_server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real `wharfd api` process on a free port, on SQLite and on PostgreSQL.

    It lives for the session, so it has a Redis database of its own (2 and 3, by database): the API
    keeps its half of the route table whole there, and never in the one other tests flush and fill.
    """
    own = redis_database(redis_url, 2 if database_url.startswith("sqlite") else 3)
    client = redis.Redis.from_url(own)
    client.flushdb()
    client.close()
    with running_api(database_url, own, tmp_path_factory.mktemp("wharf-data")) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """Rate-limit counters are per client; every test starts with a clean slate."""
    if "live_server" in request.fixturenames:
        server: LiveServer = request.getfixturevalue("live_server")
        client = redis.Redis.from_url(server.redis_url)
        for key in client.scan_iter("wharf:ratelimit:*"):
            client.delete(key)
        client.close()


@pytest.fixture(scope="session")
def swarm_host() -> Iterator[DockerTestHost]:
    """One Swarm (a private test host as its only manager) per session, for every cluster test."""
    from tests.utils.swarm_host import swarm_test_host

    with swarm_test_host() as host:
        yield host


@pytest.fixture(scope="session")
def swarm_runtime(swarm_host: DockerTestHost) -> Iterator[SwarmRuntime]:
    """A SwarmRuntime through the test Swarm's manager."""
    from wharf.platform.runtime.swarm_runtime import SwarmRuntime

    client = swarm_host.client()
    yield SwarmRuntime(client)
    client.close()
