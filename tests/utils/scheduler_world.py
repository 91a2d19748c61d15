"""A control plane in a database plus a scheduler on a runtime, for driving the scheduler in tests."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wharf.platform.actions.apps import create_app
from wharf.platform.actions.formation import FormationChange, update_formation
from wharf.platform.db import session_scope
from wharf.platform.models import App, Formation, Release, User
from wharf.platform.progress import follow_deploy
from wharf.platform.records.releases import create_release, current_config
from wharf.platform.routing import BACKENDS_KEY
from wharf.platform.runtime.base import Dyno, Runtime
from wharf.platform.scheduler.desired import SUCCEEDED
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.loop import Scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings

CIPHER_KEY = "scheduler-tests-" + "k" * 32
CIPHER = ConfigCipher(CIPHER_KEY)
# Short timings for tests on real engines with the busybox test image (no launcher in it).
QUICK_OPTIONS = SchedulerOptions(
    resync_seconds=0.5,
    boot_timeout=20.0,
    stop_timeout=5.0,
    drain_seconds=1.0,
    probe_interval=0.1,
    launcher=(),
)


@dataclass
class World:
    database_url: str
    redis: redis.Redis[bytes]
    runtime: Runtime
    scheduler: Scheduler
    owner_email: str = field(default_factory=lambda: f"owner-{secrets.token_hex(4)}@example.com")
    made: list[str] = field(default_factory=list)

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
                settings=Settings(wharf_runtime="fake"),
                owner=self._owner(session),
                name=name,
            )
        self.made.append(name)
        return name

    def close(self, deploy_timeout: float = 30.0) -> None:
        """End the test's world: once deploys and retirements are done, every app it made leaves the
        runtime (dynos and network) and the database, so a later test's scheduler, on the same
        session-wide database, has none of them to converge."""
        self.scheduler.wait_for_deploys(timeout=deploy_timeout)
        self.scheduler.fleet.wait_for_retirements()
        for app in self.made:
            for dyno in self.runtime.list_dynos(app):
                self.runtime.remove_dyno(dyno.id)
            self.runtime.remove_network(app)
        with session_scope(self.database_url) as session:
            for row in session.scalars(select(App).where(App.name.in_(self.made))):
                session.execute(delete(Formation).where(Formation.app_id == row.id))
                session.execute(delete(Release).where(Release.app_id == row.id))
                session.delete(row)
        self.made.clear()

    def release(
        self,
        app: str,
        processes: dict[str, str],
        *,
        image: str,
        config: dict[str, str] | None = None,
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
                description="test release",
                config=merged,
                image=image,
                process_types=processes,
                status="pending",
            )
            return release.version

    def scale(self, app: str, **quantities: int | str) -> None:
        changes = []
        for kind, value in quantities.items():
            quantity, _, size = str(value).partition(":")
            changes.append(FormationChange(process_type=kind, quantity=int(quantity), size=size or None))
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
        raise AssertionError("unreachable")

    def converge(self, until: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"did not converge: {self.dynos()}")
            delay = self.scheduler.reconcile_once()
            self.scheduler.wait_for_deploys()
            time.sleep(min(delay, 0.1))

    def dynos(self, app: str | None = None) -> list[Dyno]:
        return self.runtime.list_dynos(app)

    def running(self, app: str) -> list[str]:
        return sorted(f"{d.dyno}@v{d.release}" for d in self.dynos(app) if d.running)

    def backends(self, app: str) -> list[str]:
        raw = self.redis.hget(BACKENDS_KEY, app)
        return sorted(b["dyno"] for b in json.loads(raw)) if raw else []

    def backend_addresses(self, app: str) -> list[tuple[str, int]]:
        raw = self.redis.hget(BACKENDS_KEY, app)
        return [(b["host"], int(b["port"])) for b in json.loads(raw)] if raw else []


@contextlib.contextmanager
def world_on(
    runtime: Runtime, redis_client: redis.Redis[bytes], database_url: str, options: SchedulerOptions
) -> Iterator[World]:
    """A scheduler on `runtime` over a migrated `database_url`; every app it made is removed afterwards,
    with its dynos and its network, once deploys and retirements are done."""
    scheduler = Scheduler(
        runtime=runtime, client=redis_client, database_url=database_url, cipher=CIPHER, options=options
    )
    world = World(database_url=database_url, redis=redis_client, runtime=runtime, scheduler=scheduler)
    try:
        yield world
    finally:
        world.close(deploy_timeout=60)
