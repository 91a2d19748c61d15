"""`wharf releases:rollback [vN]`: a new release from an old one, deployed by the scheduler."""

from __future__ import annotations

import redis
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest
from wharf.platform.models import App, Release, User
from wharf.platform.records.releases import create_release, get_release, lock_app
from wharf.platform.scheduler.desired import PENDING
from wharf.platform.scheduler.notify import wake_scheduler
from wharf.platform.security.crypto import ConfigCipher


def rollback(
    *,
    session: Session,
    cipher: ConfigCipher,
    client: redis.Redis[bytes],
    app: App,
    actor: User,
    version: int | None,
) -> Release:
    """A new release with an old release's image and config, deployed like any other."""
    lock_app(session=session, app=app)
    session.refresh(app)
    if version is None:
        if app.current_release_version is None:
            raise BadRequest(f"{app.name} has no deployed release to roll back from.", error_id="no_release")
        version = app.current_release_version - 1
    old = get_release(session=session, app=app, version=version)
    if not old.image:
        raise BadRequest(
            f"v{version} has no image to run (it was made before any build). Pick another release.",
            error_id="no_image",
        )
    release = create_release(
        session=session,
        cipher=cipher,
        app=app,
        actor=actor,
        description=f"Rollback to v{version}",
        config=cipher.decrypt(old.config_ciphertext),
        build_id=old.build_id,
        image=old.image,
        image_id=old.image_id,
        source="rollback",
        process_types=dict(old.process_types or {}),
        status=PENDING,
    )
    session.commit()
    wake_scheduler(client, app.name)
    return release
