"""Review apps: an app per pushed branch of a pipeline, made from the pipeline's review config."""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest
from wharf.platform.models import App, Pipeline, PipelineApp, User
from wharf.platform.security.names import refuse_unsafe_characters

PATTERN = re.compile(r"[A-Za-z0-9._/*?-]{1,100}")
BRANCH = re.compile(r"[A-Za-z0-9._/-]{1,255}")
REVIEW_INFIX = "-rv-"


def validate_pattern(pattern: str) -> str:
    refuse_unsafe_characters(pattern, "branch pattern")
    if not PATTERN.fullmatch(pattern):
        raise BadRequest(
            f"'{pattern}' is not a valid branch pattern. Use letters, digits, . _ / - and the wildcards * ?, "
            "for example 'review/*'.",
            error_id="invalid_pattern",
        )
    return pattern


def configure_review_apps(
    *, session: Session, pipeline: Pipeline, enabled: bool, pattern: str | None, idle_days: int | None
) -> Pipeline:
    if pattern is not None:
        pipeline.review_pattern = validate_pattern(pattern)
    if idle_days is not None:
        if not 1 <= idle_days <= 365:
            raise BadRequest("--idle-days takes 1 to 365 days.", error_id="invalid_idle_days")
        pipeline.review_idle_days = idle_days
    pipeline.review_enabled = enabled
    session.commit()
    return pipeline


def branch_matches(pipeline: Pipeline, branch: str) -> bool:
    return pipeline.review_enabled and fnmatch.fnmatchcase(branch, pipeline.review_pattern)


def review_app_name(pipeline: Pipeline, branch: str) -> str:
    """`<pipeline>-rv-<name>`: the branch's last part after the pattern's fixed prefix, as an app name."""
    prefix = pipeline.review_pattern.split("*", 1)[0].split("?", 1)[0]
    tail = branch[len(prefix) :] if branch.startswith(prefix) else branch
    slug = re.sub(r"[^a-z0-9]+", "-", tail.lower()).strip("-")
    return f"{pipeline.name}{REVIEW_INFIX}{slug}"


def idle_review_apps(*, session: Session, now: datetime) -> list[tuple[App, PipelineApp, User]]:
    """Review apps whose branch was last pushed longer ago than their pipeline's idle days, with their
    pipeline membership and the pipeline's owner."""
    rows = session.execute(
        select(App, PipelineApp, Pipeline, User)
        .join(PipelineApp, PipelineApp.app_id == App.id)
        .join(Pipeline, Pipeline.id == PipelineApp.pipeline_id)
        .join(User, User.id == Pipeline.owner_id)
        .where(PipelineApp.review_branch.is_not(None))
    ).all()
    return [
        (app, member, owner)
        for app, member, pipeline, owner in rows
        if (member.last_push_at or member.created_at) < now - timedelta(days=pipeline.review_idle_days)
    ]


def review_sources(*, session: Session, member: PipelineApp) -> list[str]:
    """The names of the pipeline's apps that are not review apps: the repositories a review branch is
    pushed to."""
    return list(
        session.scalars(
            select(App.name)
            .join(PipelineApp, PipelineApp.app_id == App.id)
            .where(PipelineApp.pipeline_id == member.pipeline_id, PipelineApp.review_branch.is_(None))
            .order_by(App.name)
        )
    )
