"""Pipelines: the list, a pipeline's stages side by side, and promoting a stage's app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from wharf.platform.actions import pipelines
from wharf.platform.builds.image_tags import image_tagger_for
from wharf.platform.records.releases import get_release, latest_release
from wharf.platform.web.dashboard.rendering import DashboardRoute, redirect, render
from wharf.platform.web.dashboard.session import CsrfChecked, DashboardUser, get_dashboard_app
from wharf.platform.web.deps import ContextDep, SessionDep

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@router.get("/pipelines")
def pipeline_list(request: Request, session: SessionDep, user: DashboardUser) -> Response:
    owned = pipelines.list_owned_pipelines(session=session, user=user)
    return render(request, "pipelines.html", {"user": user, "pipelines": owned})


@router.get("/pipelines/{pipeline_name}")
def pipeline_page(request: Request, pipeline_name: str, session: SessionDep, user: DashboardUser) -> Response:
    pipeline = pipelines.get_owned_pipeline(session=session, user=user, name=pipeline_name)
    members = pipelines.pipeline_apps(session=session, pipeline=pipeline)
    stages = []
    for stage in pipelines.STAGES:
        entries = []
        for entry in (m for m in members if m.stage == stage):
            version = entry.app.current_release_version
            release = get_release(session=session, app=entry.app, version=version) if version else None
            latest = latest_release(session=session, app=entry.app)
            entries.append(
                {
                    "app": entry.app,
                    "deploying": latest if latest and latest.status == "pending" else None,
                    "member": entry.member,
                    "release": release,
                    "test_status": pipelines.release_test_status(session=session, release=release)
                    if release
                    else None,
                }
            )
        stages.append({"name": stage, "entries": entries})
    last_stage = max((pipelines.STAGES.index(m.stage) for m in members), default=0)
    return render(
        request,
        "pipeline.html",
        {"user": user, "pipeline": pipeline, "stages": stages, "last_stage": pipelines.STAGES[last_stage]},
    )


@router.post("/pipelines/{pipeline_name}/promote", dependencies=[CsrfChecked])
def promote(
    pipeline_name: str,
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app_name: Annotated[str, Form(alias="app", min_length=1, max_length=100)],
) -> Response:
    pipeline = pipelines.get_owned_pipeline(session=session, user=user, name=pipeline_name)
    source = get_dashboard_app(app_name, session, user)
    pipelines.promote(
        session=session,
        cipher=context.cipher,
        client=context.redis,
        tag_image=image_tagger_for(context.settings),
        actor=user,
        source=source,
        to=None,
        may_manage=lambda name: get_dashboard_app(name, session, user),
    )
    return redirect(f"/pipelines/{pipeline.name}")
