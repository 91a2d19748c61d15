"""Releases, newest first."""

from __future__ import annotations

from fastapi import APIRouter

from wharf.platform.models import App, Release, User
from wharf.platform.records import releases
from wharf.platform.testphase.records import release_test_status
from wharf.platform.web.api.schemas.apps import ReleasePublic
from wharf.platform.web.deps import RowId, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/releases", tags=["releases"])


def release_public(release: Release, *, app: App, session: SessionDep) -> ReleasePublic:
    creator = session.get(User, release.created_by_id) if release.created_by_id else None
    return ReleasePublic(
        version=release.version,
        description=release.description,
        status=release.status,
        build_id=release.build_id,
        image_id=release.image_id,
        source=release.source,
        created_by=creator.email if creator else None,
        created_at=release.created_at,
        current=release.version == app.current_release_version,
        test_status=release_test_status(session=session, release=release),
    )


@router.get("")
def list_releases(app: ViewerApp, session: SessionDep) -> list[ReleasePublic]:
    return [
        release_public(r, app=app, session=session) for r in releases.list_releases(session=session, app=app)
    ]


@router.get("/{version}")
def show_release(version: RowId, app: ViewerApp, session: SessionDep) -> ReleasePublic:
    return release_public(
        releases.get_release(session=session, app=app, version=version), app=app, session=session
    )
