"""`wharf config:set` and `config:unset`: a new release with the changed config, deployed by the scheduler."""

from __future__ import annotations

from sqlalchemy.orm import Session

from wharf.platform.builds.buildpack_specs import buildpack_spec_problem
from wharf.platform.errors import BadRequest
from wharf.platform.models import App, Release, User
from wharf.platform.records.releases import (
    create_release,
    latest_release,
    lock_app,
    validate_config_changes,
)
from wharf.platform.security.crypto import ConfigCipher


def update_config(
    *, session: Session, cipher: ConfigCipher, app: App, actor: User, changes: dict[str, str | None]
) -> tuple[dict[str, str], Release]:
    validate_config_changes(changes)
    _check_buildpack_url(changes.get("BUILDPACK_URL"))
    lock_app(session=session, app=app)
    latest = latest_release(session=session, app=app)
    config = cipher.decrypt(latest.config_ciphertext) if latest else {}
    set_keys = sorted(k for k, v in changes.items() if v is not None)
    unset_keys = sorted(k for k, v in changes.items() if v is None)
    for key in set_keys:
        config[key] = str(changes[key])
    for key in unset_keys:
        config.pop(key, None)
    parts = []
    if set_keys:
        parts.append(f"Set {', '.join(set_keys)} config vars")
    if unset_keys:
        parts.append(f"Remove {', '.join(unset_keys)} config vars")
    release = create_release(
        session=session,
        cipher=cipher,
        app=app,
        actor=actor,
        description="; ".join(parts),
        config=config,
        build_id=latest.build_id if latest else None,
        image=latest.image if latest else None,
        image_id=latest.image_id if latest else None,
        source="config",
        process_types=latest.process_types if latest else None,
        status="pending" if latest and latest.image else "succeeded",
    )
    return config, release


def _check_buildpack_url(value: str | None) -> None:
    """BUILDPACK_URL names a built-in or a URL, never a path on the server (it would be mounted)."""
    problem = buildpack_spec_problem(value) if value else None
    if problem is not None:
        raise BadRequest(problem, error_id="invalid_buildpack")
