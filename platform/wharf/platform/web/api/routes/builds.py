"""Builds of an app, with their full output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from wharf.platform.models import Build
from wharf.platform.records import builds
from wharf.platform.web.deps import RowId, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/builds", tags=["builds"])


class BuildPublic(BaseModel):
    id: int
    status: str
    commit: str
    buildpacks: list[Any] | None
    release: int | None
    duration_seconds: float | None
    slug_bytes: int | None
    image_bytes: int | None
    failure: str | None
    created_at: datetime
    finished_at: datetime | None


class BuildWithOutput(BuildPublic):
    output: str


def build_public(build: Build) -> BuildPublic:
    return BuildPublic(
        id=build.id,
        status=build.status,
        commit=build.commit,
        buildpacks=build.buildpacks,
        release=build.release_version,
        duration_seconds=build.duration_seconds,
        slug_bytes=build.slug_bytes,
        image_bytes=build.image_bytes,
        failure=build.failure,
        created_at=build.created_at,
        finished_at=build.finished_at,
    )


@router.get("")
def list_builds(app: ViewerApp, session: SessionDep) -> list[BuildPublic]:
    return [build_public(b) for b in builds.list_builds(session=session, app=app)]


@router.get("/latest")
def latest_build(app: ViewerApp, session: SessionDep) -> BuildWithOutput:
    build = builds.get_build(session=session, app=app, build_id=None)
    return BuildWithOutput(**build_public(build).model_dump(), output=build.output)


@router.get("/{build_id}")
def show_build(build_id: RowId, app: ViewerApp, session: SessionDep) -> BuildWithOutput:
    build = builds.get_build(session=session, app=app, build_id=build_id)
    return BuildWithOutput(**build_public(build).model_dump(), output=build.output)
