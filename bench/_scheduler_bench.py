"""Shared set-up for the scheduler benchmarks: a scratch database, a private Redis, real Docker."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.busybox_image import build_test_image
from wharf.platform.actions.apps import create_app
from wharf.platform.actions.formation import FormationChange, update_formation
from wharf.platform.db import session_scope
from wharf.platform.migrate import upgrade_database
from wharf.platform.models import App, Release, User
from wharf.platform.progress import follow_deploy
from wharf.platform.records.releases import create_release, current_config
from wharf.platform.routing import BACKENDS_KEY
from wharf.platform.runtime.base import Dyno, Runtime
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.scheduler.desired import SUCCEEDED
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.loop import Scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings

CIPHER = ConfigCipher("scheduler-bench-" + "k" * 32)

OPTIONS = SchedulerOptions(
    resync_seconds=1.0, drain_seconds=1.0, stop_timeout=5.0, probe_interval=0.05, launcher=()
)


@dataclass
class World:
    """A control plane in a scratch database plus a scheduler on a runtime, driven as a user would."""

    database_url: str
    redis: redis.Redis[bytes]
    runtime: Runtime
    scheduler: Scheduler
    owner_email: str = field(default_factory=lambda: f"owner-{secrets.token_hex(4)}@example.com")

    def __post_init__(self) -> None:
        with session_scope(self.database_url) as session:
            session.add(User(email=self.owner_email, password_hash="unused"))

    def _owner(self, session: Session) -> User:
        return session.scalars(select(User).where(User.email == self.owner_email)).one()

    def new_app(self) -> str:
        name = f"s-{secrets.token_hex(4)}"
        with session_scope(self.database_url) as session:
            create_app(
                session=session,
                cipher=CIPHER,
                client=self.redis,
                settings=Settings(),
                owner=self._owner(session),
                name=name,
            )
        return name

    def release(
        self, app: str, processes: dict[str, str], *, image: str, config: dict[str, str] | None = None
    ) -> int:
        """A pending release with an image, as a build or a config change makes it."""
        with session_scope(self.database_url) as session:
            row = session.query(App).filter_by(name=app).one()
            merged = current_config(session=session, cipher=CIPHER, app=row) | (config or {})
            release = create_release(
                session=session,
                cipher=CIPHER,
                app=row,
                actor=self._owner(session),
                description="bench release",
                config=merged,
                image=image,
                process_types=processes,
                status="pending",
            )
            return release.version

    def scale(self, app: str, **quantities: int) -> None:
        changes = [FormationChange(process_type=kind, quantity=n) for kind, n in quantities.items()]
        with session_scope(self.database_url) as session:
            row = session.query(App).filter_by(name=app).one()
            update_formation(session=session, app=row, actor=self._owner(session), changes=changes)

    def app_row(self, app: str) -> tuple[int | None, dict[int, str]]:
        """The current release version and every release's status."""
        with session_scope(self.database_url) as session:
            row = session.query(App).filter_by(name=app).one()
            statuses = {r.version: r.status for r in session.query(Release).filter_by(app_id=row.id)}
            return row.current_release_version, statuses

    def deploy(self, app: str) -> tuple[str, list[str]]:
        """Run passes until the pending deploy ends; returns its outcome and output lines."""
        self.scheduler.reconcile_once()
        self.scheduler.wait_for_deploys(timeout=120)
        current, statuses = self.app_row(app)
        version = max(v for v, s in statuses.items() if s != SUCCEEDED or v == current)
        lines: list[str] = []
        for item in follow_deploy(self.redis, app, version, idle_timeout=5):
            if isinstance(item, str):
                lines.append(item)
            else:
                return item.status, [*lines, item.message]
        raise RuntimeError(f"the deploy of {app} v{version} ended without an outcome")

    def converge(self, until: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise RuntimeError(f"did not converge: {self.dynos()}")
            delay = self.scheduler.reconcile_once()
            self.scheduler.wait_for_deploys()
            time.sleep(min(delay, 0.1))

    def dynos(self, app: str | None = None) -> list[Dyno]:
        return self.runtime.list_dynos(app)

    def backends(self, app: str) -> list[str]:
        raw = self.redis.hget(BACKENDS_KEY, app)
        return sorted(b["dyno"] for b in json.loads(raw)) if raw else []

    def backend_addresses(self, app: str) -> list[tuple[str, int]]:
        raw = self.redis.hget(BACKENDS_KEY, app)
        return [(b["host"], int(b["port"])) for b in json.loads(raw)] if raw else []


@contextmanager
def private_redis(scratch: Path) -> Iterator[redis.Redis[bytes]]:
    """A redis-server of the bench's own on a socket in `scratch`, and REDIS_URL pointing at it (audit
    lines of the scratch control plane go there too); stopped on the way out."""
    sock = scratch / "redis.sock"
    server = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    os.environ["REDIS_URL"] = f"unix://{sock}"
    try:
        while not sock.exists():
            time.sleep(0.05)
        cache = redis.Redis(unix_socket_path=str(sock))
        try:
            yield cache
        finally:
            cache.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def scheduler_world() -> Iterator[World]:
    with (
        tempfile.TemporaryDirectory(prefix="wharf-bench-") as scratch,
        private_redis(Path(scratch)) as cache,
    ):
        url = f"sqlite:///{scratch}/wharf.db"
        upgrade_database(url)
        client = docker.from_env()
        build_test_image(client)
        # Scoped to its own installation: unscoped, its scheduler would take every other Wharf's
        # dynos on this Docker for orphans of deleted apps and remove them.
        runtime = DockerRuntime(client, installation=f"bench-{secrets.token_hex(6)}")
        scheduler = Scheduler(runtime=runtime, client=cache, database_url=url, cipher=CIPHER, options=OPTIONS)
        world = World(database_url=url, redis=cache, runtime=runtime, scheduler=scheduler)
        try:
            yield world
        finally:
            scheduler.fleet.wait_for_retirements()
            for dyno in runtime.list_dynos():
                if dyno.app.startswith("s-"):
                    runtime.remove_dyno(dyno.id)
