"""The desired state the scheduler converges to, read from the control-plane database.

Per app: the release that serves (`current_release_version`), the newest release waiting to be
deployed, and the formation. Outcomes of deploys are written back here, and nowhere else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wharf.platform.db import session_scope
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Formation, Release
from wharf.platform.security.crypto import ConfigCipher

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
SUPERSEDED = "superseded"
RELEASE_PROCESS = "release"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseTarget:
    version: int
    image: str
    process_types: dict[str, str]
    config: dict[str, str]


@dataclass(frozen=True)
class ProcessTarget:
    quantity: int
    size: str


@dataclass(frozen=True)
class AppTarget:
    name: str
    app_id: int
    current: ReleaseTarget | None
    pending: ReleaseTarget | None
    formation: dict[str, ProcessTarget] = field(default_factory=dict)
    first_deploy: bool = False

    def wanted(self, release: ReleaseTarget) -> dict[str, ProcessTarget]:
        """Process types of the formation that the release can run, with a quantity above 0."""
        return {
            kind: process
            for kind, process in self.formation.items()
            if process.quantity > 0 and kind in release.process_types and kind != RELEASE_PROCESS
        }


def _release_target(release: Release, cipher: ConfigCipher) -> ReleaseTarget | None:
    if not release.image:
        return None
    return ReleaseTarget(
        version=release.version,
        image=release.image,
        process_types={str(k): str(v) for k, v in (release.process_types or {}).items()},
        config=cipher.decrypt(release.config_ciphertext),
    )


def _app_target(session: Session, cipher: ConfigCipher, app: App) -> AppTarget:
    current = None
    if app.current_release_version is not None:
        row = session.scalar(
            select(Release).where(Release.app_id == app.id, Release.version == app.current_release_version)
        )
        current = _release_target(row, cipher) if row is not None else None
    newest_pending = session.scalar(
        select(Release)
        .where(Release.app_id == app.id, Release.status == PENDING, Release.image.is_not(None))
        .order_by(Release.version.desc())
        .limit(1)
    )
    rows = list(session.scalars(select(Formation).where(Formation.app_id == app.id)))
    return _assemble(app, current, newest_pending, rows, cipher)


def _assemble(
    app: App,
    current: ReleaseTarget | None,
    newest_pending: Release | None,
    rows: list[Formation],
    cipher: ConfigCipher,
) -> AppTarget:
    pending = _release_target(newest_pending, cipher) if newest_pending is not None else None
    formation = {r.process_type: ProcessTarget(quantity=r.quantity, size=r.size) for r in rows}
    return AppTarget(
        name=app.name,
        app_id=app.id,
        current=current,
        pending=pending,
        formation=formation,
        first_deploy=app.current_release_version is None and not formation,
    )


def load_targets(database_url: str, cipher: ConfigCipher) -> list[AppTarget]:
    """Every app's desired state; an app that cannot be read is left out (and logged), never the fleet.

    Read in four queries whatever the number of apps: the scheduler reads it on every pass.
    """
    targets = []
    with session_scope(database_url) as session:
        apps = list(session.scalars(select(App).order_by(App.name)))
        current = {
            row.app_id: row
            for row in session.scalars(
                select(Release).join(
                    App, (Release.app_id == App.id) & (Release.version == App.current_release_version)
                )
            )
        }
        pending: dict[int, Release] = {}
        for row in session.scalars(
            select(Release)
            .where(Release.status == PENDING, Release.image.is_not(None))
            .order_by(Release.app_id, Release.version.desc())
        ):
            pending.setdefault(row.app_id, row)
        formations: dict[int, list[Formation]] = {}
        for formation_row in session.scalars(select(Formation)):
            formations.setdefault(formation_row.app_id, []).append(formation_row)
        for app in apps:
            try:
                serving = current.get(app.id)
                release = _release_target(serving, cipher) if serving is not None else None
                targets.append(
                    _assemble(app, release, pending.get(app.id), formations.get(app.id, []), cipher)
                )
            except Exception:
                log.exception("cannot read the desired state of %s; leaving its dynos as they are", app.name)
    return targets


def app_names(database_url: str) -> set[str]:
    """Apps that exist, readable or not: only dynos of other apps are orphans."""
    with session_scope(database_url) as session:
        return set(session.scalars(select(App.name)))


def load_target(database_url: str, cipher: ConfigCipher, app_name: str) -> AppTarget | None:
    with session_scope(database_url) as session:
        app = session.scalar(select(App).where(App.name == app_name))
        return None if app is None else _app_target(session, cipher, app)


def set_first_formation(database_url: str, app_id: int, wanted: dict[str, ProcessTarget]) -> None:
    """An app's first formation (web=1 as on Heroku, then app.json's), unless one exists by now.

    A `ps:scale` committed between the check and the insert wins: its row stands, the deploy goes on.
    """
    try:
        with session_scope(database_url) as session:
            exists = session.scalar(select(Formation).where(Formation.app_id == app_id).limit(1))
            if exists is None:
                for kind, process in sorted(wanted.items()):
                    session.add(
                        Formation(
                            app_id=app_id, process_type=kind, quantity=process.quantity, size=process.size
                        )
                    )
    except IntegrityError:
        log.info("app %d got its formation from a ps:scale meanwhile; keeping that one", app_id)


def record_deploy(database_url: str, app_id: int, version: int, *, succeeded: bool, message: str) -> None:
    """Mark the release deployed (and current) or failed; older pending releases are superseded."""
    with session_scope(database_url) as session:
        app = session.get(App, app_id)
        if app is None:
            return
        for release in session.scalars(
            select(Release).where(Release.app_id == app_id, Release.version <= version)
        ):
            if release.version == version:
                release.status = SUCCEEDED if succeeded else FAILED
            elif release.status == PENDING:
                release.status = SUPERSEDED
        if succeeded:
            app.current_release_version = version
        record_event(
            session=session,
            actor=None,
            action="deploy" if succeeded else "deploy-failed",
            app_name=app.name,
            message=message,
        )
