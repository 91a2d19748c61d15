"""Pipelines: apps in ordered stages, and promotion of one stage's release image to the next stage.

A promotion gives each downstream app a new release of its own with the upstream release's exact
image (the same Docker image id under the downstream's own tag, no rebuild), the downstream's own
config, and the upstream's process types; it rolls back like any other release.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wharf.platform.builds.image import image_name
from wharf.platform.builds.image_tags import ImageTagger
from wharf.platform.errors import BadRequest, Conflict, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Pipeline, PipelineApp, Release, User
from wharf.platform.records.releases import create_release, get_release, latest_release, lock_app
from wharf.platform.scheduler.desired import PENDING
from wharf.platform.scheduler.notify import wake_scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.names import refuse_unsafe_characters
from wharf.platform.testphase import records as test_records

STAGES = ("review", "development", "staging", "production")
# Short enough that `<pipeline>-rv-<branch>` still fits an app name.
PIPELINE_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")


def validate_pipeline_name(name: str) -> str:
    refuse_unsafe_characters(name, "pipeline name")
    if not PIPELINE_NAME.fullmatch(name) or name.endswith("-"):
        raise BadRequest(
            f"'{name}' is not a valid pipeline name. Use lowercase letters, digits and dashes, start with "
            "a letter, and keep it to 20 characters.",
            error_id="invalid_pipeline_name",
        )
    return name


def validate_stage(stage: str) -> str:
    if stage not in STAGES:
        raise BadRequest(
            f"Unknown stage {stage!r}. Choose one of: {', '.join(STAGES)}.", error_id="invalid_stage"
        )
    return stage


def get_owned_pipeline(*, session: Session, user: User, name: str) -> Pipeline:
    """The pipeline if the user owns it; another user's pipeline is reported as missing."""
    pipeline = session.scalar(select(Pipeline).where(Pipeline.name == name))
    if pipeline is None or pipeline.owner_id != user.id:
        raise NotFound(
            f"Couldn't find that pipeline ({name}). Check the name with `wharf pipelines`.",
            error_id="pipeline_not_found",
        )
    return pipeline


def list_owned_pipelines(*, session: Session, user: User) -> list[Pipeline]:
    query = select(Pipeline).where(Pipeline.owner_id == user.id).order_by(Pipeline.name)
    return list(session.scalars(query))


def membership(*, session: Session, app: App) -> PipelineApp | None:
    return session.scalar(select(PipelineApp).where(PipelineApp.app_id == app.id))


@dataclass(frozen=True)
class StageApp:
    stage: str
    app: App
    member: PipelineApp


def pipeline_apps(*, session: Session, pipeline: Pipeline) -> list[StageApp]:
    """The pipeline's apps, by stage order then name."""
    rows = session.execute(
        select(PipelineApp, App)
        .join(App, App.id == PipelineApp.app_id)
        .where(PipelineApp.pipeline_id == pipeline.id)
    ).all()
    found = [StageApp(stage=member.stage, app=app, member=member) for member, app in rows]
    return sorted(found, key=lambda s: (STAGES.index(s.stage), s.app.name))


def _join(*, session: Session, pipeline: Pipeline, app: App, stage: str) -> PipelineApp:
    existing = membership(session=session, app=app)
    if existing is not None:
        other = session.get(Pipeline, existing.pipeline_id)
        where = other.name if other else "another pipeline"
        raise Conflict(
            f"{app.name} is already in pipeline {where}. An app belongs to one pipeline: run "
            f"`wharf pipelines:remove -a {app.name}` first.",
            error_id="app_in_pipeline",
        )
    member = PipelineApp(pipeline_id=pipeline.id, app_id=app.id, stage=stage)
    session.add(member)
    session.flush()
    return member


def create_pipeline(*, session: Session, owner: User, name: str, app: App, stage: str) -> Pipeline:
    validate_pipeline_name(name)
    validate_stage(stage)
    if session.scalar(select(Pipeline.id).where(Pipeline.name == name)) is not None:
        raise Conflict(
            f"Pipeline name {name} is already taken. Choose another.", error_id="pipeline_name_taken"
        )
    pipeline = Pipeline(name=name, owner_id=owner.id)
    session.add(pipeline)
    session.flush()
    _join(session=session, pipeline=pipeline, app=app, stage=stage)
    record_event(
        session=session,
        actor=owner,
        action="pipeline",
        app_name=app.name,
        message=f"Pipeline {name} created with {app.name} ({stage}) by {owner.email}",
    )
    session.commit()
    return pipeline


def add_to_pipeline(
    *, session: Session, actor: User, pipeline: Pipeline, app: App, stage: str
) -> PipelineApp:
    validate_stage(stage)
    member = _join(session=session, pipeline=pipeline, app=app, stage=stage)
    record_event(
        session=session,
        actor=actor,
        action="pipeline",
        app_name=app.name,
        message=f"Added to pipeline {pipeline.name} ({stage}) by {actor.email}",
    )
    session.commit()
    return member


def remove_from_pipeline(*, session: Session, actor: User, app: App) -> Pipeline:
    member = membership(session=session, app=app)
    if member is None:
        raise NotFound(f"{app.name} is in no pipeline.", error_id="not_in_pipeline")
    pipeline = session.get(Pipeline, member.pipeline_id)
    assert pipeline is not None
    session.delete(member)
    record_event(
        session=session,
        actor=actor,
        action="pipeline",
        app_name=app.name,
        message=f"Removed from pipeline {pipeline.name} by {actor.email}",
    )
    session.commit()
    return pipeline


def destroy_pipeline(*, session: Session, pipeline: Pipeline) -> None:
    """The pipeline goes; its apps stay, outside any pipeline."""
    session.execute(delete(PipelineApp).where(PipelineApp.pipeline_id == pipeline.id))
    session.delete(pipeline)
    session.commit()


def release_test_status(*, session: Session, release: Release) -> str | None:
    """The release's test result ("succeeded", "failed", ...), or None when none is recorded."""
    return test_records.release_test_status(session=session, release=release)


def downstream_apps(*, session: Session, app: App) -> list[App]:
    """The apps of the nearest later stage that has apps."""
    member = membership(session=session, app=app)
    if member is None:
        raise BadRequest(
            f"{app.name} is in no pipeline. Add it: wharf pipelines:add PIPELINE -a {app.name} --stage STAGE",
            error_id="not_in_pipeline",
        )
    pipeline = session.get(Pipeline, member.pipeline_id)
    assert pipeline is not None
    later = [
        s
        for s in pipeline_apps(session=session, pipeline=pipeline)
        if STAGES.index(s.stage) > STAGES.index(member.stage)
    ]
    if not later:
        raise BadRequest(
            f"{app.name} is in the last stage of pipeline {pipeline.name} ({member.stage}): there is no "
            f"downstream app to promote to. Add one: wharf pipelines:add {pipeline.name} -a APP "
            "--stage production",
            error_id="no_downstream",
        )
    next_stage = later[0].stage
    return [s.app for s in later if s.stage == next_stage]


def check_same_pipeline(*, session: Session, source: App, target: App) -> None:
    mine = membership(session=session, app=source)
    theirs = membership(session=session, app=target)
    if mine is None:
        raise BadRequest(f"{source.name} is in no pipeline.", error_id="not_in_pipeline")
    if target.id == source.id:
        raise BadRequest(f"{source.name} cannot be promoted to itself.", error_id="promote_to_self")
    if theirs is None or theirs.pipeline_id != mine.pipeline_id:
        raise BadRequest(
            f"{target.name} is not in {source.name}'s pipeline. Add it with `wharf pipelines:add`.",
            error_id="not_in_pipeline",
        )


def promote(
    *,
    session: Session,
    cipher: ConfigCipher,
    client: redis.Redis[bytes],
    tag_image: ImageTagger,
    actor: User,
    source: App,
    to: list[str] | None,
    may_manage: Callable[[str], App],
    force: bool = False,
) -> list[tuple[App, Release]]:
    """Give each target a new release running the source's current release image; returns them.

    The targets are the apps named TO, or the next stage's apps; MAY_MANAGE looks each up as the
    caller's (raising when the caller may not manage it), the same check as any app-scoped route.
    """
    names = to or [a.name for a in downstream_apps(session=session, app=source)]
    targets = [may_manage(name) for name in dict.fromkeys(names)]
    for target in targets:
        check_same_pipeline(session=session, source=source, target=target)
    if source.current_release_version is None:
        raise BadRequest(
            f"{source.name} has no deployed release to promote. Push to it first.", error_id="no_release"
        )
    upstream = get_release(session=session, app=source, version=source.current_release_version)
    if not upstream.image:
        raise BadRequest(f"{source.name} v{upstream.version} has no image to promote.", error_id="no_image")
    if release_test_status(session=session, release=upstream) == "failed" and not force:
        raise Conflict(
            f"The tests of {source.name} v{upstream.version} failed. Fix them and push again, or promote "
            "anyway with --force.",
            error_id="tests_failed",
        )
    made: list[tuple[App, Release]] = []
    for target in targets:
        lock_app(session=session, app=target)
        latest = latest_release(session=session, app=target)
        release = create_release(
            session=session,
            cipher=cipher,
            app=target,
            actor=actor,
            description=f"Promote {source.name} v{upstream.version}",
            config=cipher.decrypt(latest.config_ciphertext) if latest else {},
            process_types=dict(upstream.process_types or {}),
            status=PENDING,
            source="promotion",
        )
        tagged = tag_image(upstream.image, image_name(target.name), f"v{release.version}")
        release.image_id = tagged or upstream.image_id
        release.image = f"{image_name(target.name)}:v{release.version}"
        made.append((target, release))
    session.commit()
    for target, _release in made:
        wake_scheduler(client, target.name)
    return made
