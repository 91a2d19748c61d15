"""Builds: recorded when a push arrives, listed for `wharf builds`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.errors import NotFound
from wharf.platform.models import App, Build, User


def create_build(*, session: Session, app: App, actor: User | None, commit: str) -> Build:
    build = Build(app_id=app.id, commit=commit, status="pending", created_by_id=actor.id if actor else None)
    session.add(build)
    session.flush()
    return build


def list_builds(*, session: Session, app: App, limit: int = 50) -> list[Build]:
    return list(
        session.scalars(select(Build).where(Build.app_id == app.id).order_by(Build.id.desc()).limit(limit))
    )


def get_build(*, session: Session, app: App, build_id: int | None) -> Build:
    """A build of the app by id; the latest when no id is given."""
    query = select(Build).where(Build.app_id == app.id)
    query = (
        query.where(Build.id == build_id)
        if build_id is not None
        else query.order_by(Build.id.desc()).limit(1)
    )
    build = session.scalar(query)
    if build is None:
        which = (
            f"build {build_id}" if build_id is not None else "builds yet: push code with git push wharf main"
        )
        raise NotFound(f"{app.name} has no {which}.", error_id="build_not_found")
    return build
