"""`GET /api/account/usage`: the caller's metered requests per day, and the limits that apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from wharf.platform.metering.usage import MAX_DAYS, account_usage
from wharf.platform.web.deps import ContextDep, CurrentUser

router = APIRouter(tags=["accounts"])


class DayUsagePublic(BaseModel):
    date: str
    api: int
    git: int
    logs: int
    total: int


class LimitsPublic(BaseModel):
    window_seconds: int
    api: int
    git: int
    logs: int


class UsagePublic(BaseModel):
    limits: LimitsPublic
    days: list[DayUsagePublic]


@router.get("/account/usage")
def get_usage(
    user: CurrentUser, context: ContextDep, days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30
) -> UsagePublic:
    settings = context.settings
    found = account_usage(
        context.redis, installation=context.settings.installation_id, user_id=user.id, days=days
    )
    return UsagePublic(
        limits=LimitsPublic(
            window_seconds=settings.wharf_rate_limit_window_seconds,
            api=settings.wharf_api_rate_limit,
            git=settings.wharf_git_rate_limit,
            logs=settings.wharf_log_tail_rate_limit,
        ),
        days=[DayUsagePublic.model_validate(day.to_json()) for day in found],
    )
