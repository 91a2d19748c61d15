"""Releases and config vars.

A release is immutable: a build plus a snapshot of config. Changing config, deploying a build and
rolling back each make a new release, numbered per app by an atomic counter on the app row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Release, User
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.names import validate_config_key

RESERVED_KEYS = frozenset({"PORT", "DYNO"})
MAX_VALUE_BYTES = 32 * 1024


def lock_app(*, session: Session, app: App) -> None:
    """Hold the app's row until the transaction ends, before a read-modify-write of its config,
    formation or releases, so that two such changes run one after the other and neither is lost.

    PostgreSQL: ``SELECT ... FOR UPDATE`` (later statements then read what the previous holder
    committed). SQLite has no row locks: a no-op ``UPDATE`` opens the write transaction and takes the
    database's single writer lock, waiting (busy timeout) while another writer holds it.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(App)
            .where(App.id == app.id)
            .values(release_counter=App.release_counter)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(select(App.id).where(App.id == app.id).with_for_update())


def next_release_version(*, session: Session, app: App) -> int:
    version = session.execute(
        update(App)
        .where(App.id == app.id)
        .values(release_counter=App.release_counter + 1)
        .returning(App.release_counter)
    ).scalar_one()
    return int(version)


def latest_release(*, session: Session, app: App) -> Release | None:
    query = select(Release).where(Release.app_id == app.id).order_by(Release.version.desc()).limit(1)
    return session.scalar(query)


def get_release(*, session: Session, app: App, version: int) -> Release:
    release = session.scalar(select(Release).where(Release.app_id == app.id, Release.version == version))
    if release is None:
        raise NotFound(
            f"{app.name} has no release v{version}. List them with `wharf releases -a {app.name}`."
        )
    return release


def list_releases(*, session: Session, app: App, limit: int = 100) -> list[Release]:
    query = select(Release).where(Release.app_id == app.id).order_by(Release.version.desc()).limit(limit)
    return list(session.scalars(query))


def create_release(
    *,
    session: Session,
    cipher: ConfigCipher,
    app: App,
    actor: User | None,
    description: str,
    config: dict[str, str],
    build_id: int | None = None,
    image: str | None = None,
    image_id: str | None = None,
    process_types: dict[str, Any] | None = None,
    status: str = "succeeded",
    source: str | None = None,
) -> Release:
    version = next_release_version(session=session, app=app)
    release = Release(
        app_id=app.id,
        version=version,
        description=description[:500],
        status=status,
        build_id=build_id,
        image=image,
        image_id=image_id,
        source=source,
        process_types=process_types,
        config_ciphertext=cipher.encrypt(config),
        created_by_id=actor.id if actor else None,
    )
    session.add(release)
    session.flush()
    who = actor.email if actor else "wharfd"
    record_event(
        session=session,
        actor=actor,
        action="release",
        app_name=app.name,
        message=f"Release v{version} created by {who}: {description}",
    )
    return release


def current_config(*, session: Session, cipher: ConfigCipher, app: App) -> dict[str, str]:
    release = latest_release(session=session, app=app)
    return cipher.decrypt(release.config_ciphertext) if release else {}


def validate_config_changes(changes: dict[str, str | None]) -> None:
    """Refuse a bad key or value before it can reach a dyno."""
    if not changes:
        raise BadRequest("No config vars given. Usage: wharf config:set KEY=value ...", error_id="no_changes")
    for key, value in changes.items():
        validate_config_key(key)
        if key in RESERVED_KEYS:
            raise BadRequest(
                f"{key} is set by Wharf for each dyno and cannot be changed.", error_id="reserved_key"
            )
        if value is not None and ("\x00" in value or len(value.encode()) > MAX_VALUE_BYTES):
            raise BadRequest(
                f"The value of {key} is refused: values may not contain NUL bytes or exceed 32 KB.",
                error_id="invalid_config_value",
            )
