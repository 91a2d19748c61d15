"""Autoscaling of an app's process types: settings and the scaling history."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from wharf.platform.actions import autoscale
from wharf.platform.models import AutoscaleEvent, Autoscaling
from wharf.platform.web.deps import AppDep, ContextDep, CurrentUser, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/autoscale", tags=["autoscale"])


INT32 = 2**31 - 1


class AutoscaleUpdate(BaseModel):
    min: int = Field(ge=-INT32, le=INT32)
    max: int = Field(ge=-INT32, le=INT32)
    p95_ms: int = Field(ge=-INT32, le=INT32)
    requests_per_dyno: int | None = Field(default=None, ge=-INT32, le=INT32)
    concurrency_per_dyno: int | None = Field(default=None, ge=-INT32, le=INT32)


class AutoscalePublic(BaseModel):
    type: str
    min: int
    max: int
    p95_ms: int
    requests_per_dyno: int | None
    concurrency_per_dyno: int | None

    @classmethod
    def of(cls, row: Autoscaling) -> AutoscalePublic:
        return cls(
            type=row.process_type,
            min=row.min_dynos,
            max=row.max_dynos,
            p95_ms=row.p95_ms,
            requests_per_dyno=row.requests_per_dyno,
            concurrency_per_dyno=row.concurrency_per_dyno,
        )


class AutoscaleEventPublic(BaseModel):
    type: str
    from_quantity: int
    to_quantity: int
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, row: AutoscaleEvent) -> AutoscaleEventPublic:
        return cls(
            type=row.process_type,
            from_quantity=row.from_quantity,
            to_quantity=row.to_quantity,
            reason=row.reason,
            created_at=row.created_at,
        )


@router.get("")
def list_autoscaling(app: ViewerApp, session: SessionDep) -> list[AutoscalePublic]:
    return [AutoscalePublic.of(row) for row in autoscale.list_autoscaling(session=session, app=app)]


@router.get("/log")
def autoscale_log(app: ViewerApp, session: SessionDep) -> list[AutoscaleEventPublic]:
    return [AutoscaleEventPublic.of(row) for row in autoscale.list_autoscale_events(session=session, app=app)]


@router.put("/{process_type}")
def set_autoscaling(
    process_type: str,
    body: AutoscaleUpdate,
    app: AppDep,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> AutoscalePublic:
    request = autoscale.AutoscaleRequest(
        process_type=process_type,
        min_dynos=body.min,
        max_dynos=body.max,
        p95_ms=body.p95_ms,
        requests_per_dyno=body.requests_per_dyno,
        concurrency_per_dyno=body.concurrency_per_dyno,
    )
    row = autoscale.set_autoscaling(
        session=session, app=app, actor=user, request=request, quotas=context.settings.quotas
    )
    return AutoscalePublic.of(row)


@router.delete("/{process_type}", status_code=status.HTTP_204_NO_CONTENT)
def disable_autoscaling(process_type: str, app: AppDep, user: CurrentUser, session: SessionDep) -> Response:
    autoscale.disable_autoscaling(session=session, app=app, actor=user, process_type=process_type)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
