"""Pipelines: create, list, show, join, leave, destroy, promote, and their review-app settings."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from wharf.platform.actions import pipelines, reviewapps
from wharf.platform.builds.image_tags import image_tagger_for
from wharf.platform.models import Pipeline
from wharf.platform.records.releases import get_release
from wharf.platform.web.api.routes.releases import release_public
from wharf.platform.web.api.schemas.apps import ReleasePublic
from wharf.platform.web.deps import AppDep, ContextDep, CurrentUser, SessionDep, get_app

router = APIRouter(tags=["pipelines"])
NAME = Field(min_length=1, max_length=100)


class PipelineCreate(BaseModel):
    name: str = NAME
    app: str = NAME
    stage: str = Field(min_length=1, max_length=30)


class PipelineJoin(BaseModel):
    app: str = NAME
    stage: str = Field(min_length=1, max_length=30)


class PromoteRequest(BaseModel):
    to: list[str] | None = Field(default=None, max_length=20)
    force: bool = False


class ReviewAppsUpdate(BaseModel):
    enabled: bool
    pattern: str | None = Field(default=None, min_length=1, max_length=100)
    idle_days: int | None = Field(default=None, ge=1, le=365)


class StageRelease(BaseModel):
    version: int
    description: str
    image_id: str | None
    test_status: str | None


class PipelineAppPublic(BaseModel):
    app: str
    stage: str
    review_branch: str | None
    release: StageRelease | None


class ReviewAppsPublic(BaseModel):
    enabled: bool
    pattern: str
    idle_days: int


class PipelinePublic(BaseModel):
    name: str
    review_apps: ReviewAppsPublic
    apps: list[PipelineAppPublic]


class Promotion(BaseModel):
    app: str
    release: ReleasePublic


def pipeline_public(pipeline: Pipeline, *, session: SessionDep) -> PipelinePublic:
    members = []
    for entry in pipelines.pipeline_apps(session=session, pipeline=pipeline):
        release = None
        if entry.app.current_release_version is not None:
            current = get_release(session=session, app=entry.app, version=entry.app.current_release_version)
            release = StageRelease(
                version=current.version,
                description=current.description,
                image_id=current.image_id,
                test_status=pipelines.release_test_status(session=session, release=current),
            )
        members.append(
            PipelineAppPublic(
                app=entry.app.name,
                stage=entry.stage,
                review_branch=entry.member.review_branch,
                release=release,
            )
        )
    return PipelinePublic(
        name=pipeline.name,
        review_apps=ReviewAppsPublic(
            enabled=pipeline.review_enabled,
            pattern=pipeline.review_pattern,
            idle_days=pipeline.review_idle_days,
        ),
        apps=members,
    )


@router.get("/pipelines")
def list_pipelines(user: CurrentUser, session: SessionDep) -> list[PipelinePublic]:
    return [
        pipeline_public(p, session=session)
        for p in pipelines.list_owned_pipelines(session=session, user=user)
    ]


@router.post("/pipelines", status_code=status.HTTP_201_CREATED)
def create_pipeline(body: PipelineCreate, user: CurrentUser, session: SessionDep) -> PipelinePublic:
    app = get_app(body.app, session, user)
    pipeline = pipelines.create_pipeline(
        session=session, owner=user, name=body.name, app=app, stage=body.stage
    )
    return pipeline_public(pipeline, session=session)


@router.get("/pipelines/{pipeline_name}")
def show_pipeline(pipeline_name: str, user: CurrentUser, session: SessionDep) -> PipelinePublic:
    pipeline = pipelines.get_owned_pipeline(session=session, user=user, name=pipeline_name)
    return pipeline_public(pipeline, session=session)


@router.post("/pipelines/{pipeline_name}/apps", status_code=status.HTTP_201_CREATED)
def add_app(pipeline_name: str, body: PipelineJoin, user: CurrentUser, session: SessionDep) -> PipelinePublic:
    pipeline = pipelines.get_owned_pipeline(session=session, user=user, name=pipeline_name)
    app = get_app(body.app, session, user)
    pipelines.add_to_pipeline(session=session, actor=user, pipeline=pipeline, app=app, stage=body.stage)
    return pipeline_public(pipeline, session=session)


@router.delete("/pipelines/{pipeline_name}", status_code=status.HTTP_204_NO_CONTENT)
def destroy_pipeline(pipeline_name: str, user: CurrentUser, session: SessionDep) -> Response:
    pipeline = pipelines.get_owned_pipeline(session=session, user=user, name=pipeline_name)
    pipelines.destroy_pipeline(session=session, pipeline=pipeline)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/pipelines/{pipeline_name}/review-apps")
def update_review_apps(
    pipeline_name: str, body: ReviewAppsUpdate, user: CurrentUser, session: SessionDep
) -> PipelinePublic:
    pipeline = pipelines.get_owned_pipeline(session=session, user=user, name=pipeline_name)
    reviewapps.configure_review_apps(
        session=session,
        pipeline=pipeline,
        enabled=body.enabled,
        pattern=body.pattern,
        idle_days=body.idle_days,
    )
    return pipeline_public(pipeline, session=session)


@router.delete("/apps/{app_name}/pipeline", status_code=status.HTTP_204_NO_CONTENT)
def leave_pipeline(app: AppDep, user: CurrentUser, session: SessionDep) -> Response:
    pipelines.remove_from_pipeline(session=session, actor=user, app=app)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/apps/{app_name}/pipeline/promote", status_code=status.HTTP_201_CREATED)
def promote(
    app: AppDep, body: PromoteRequest, user: CurrentUser, session: SessionDep, context: ContextDep
) -> list[Promotion]:
    made = pipelines.promote(
        session=session,
        cipher=context.cipher,
        client=context.redis,
        tag_image=image_tagger_for(context.settings),
        actor=user,
        source=app,
        to=body.to,
        may_manage=lambda name: get_app(name, session, user),
        force=body.force,
    )
    return [Promotion(app=a.name, release=release_public(r, app=a, session=session)) for a, r in made]
