"""Alerts of an app: list, add (answers the webhook secret once), remove."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from wharf.platform.actions import alerts
from wharf.platform.models import Alert
from wharf.platform.web.deps import AppDep, ContextDep, CurrentUser, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/alerts", tags=["alerts"])


class AlertCreate(BaseModel):
    kind: str = Field(max_length=20)
    webhook: str | None = Field(default=None, max_length=2048)
    email: str | None = Field(default=None, max_length=320)
    threshold: float | None = None
    for_minutes: int | None = Field(default=None, alias="for", ge=-(2**31), le=2**31 - 1)
    repeat_minutes: int = Field(default=60, alias="repeat", ge=-(2**31), le=2**31 - 1)

    model_config = {"populate_by_name": True}


class AlertPublic(BaseModel):
    id: int
    app: str
    kind: str
    target: str
    threshold: float | None
    for_minutes: int = Field(serialization_alias="for")
    repeat: int
    state: str
    last_fired: datetime | None
    created_at: datetime
    secret: str | None = None

    @classmethod
    def of(cls, alert: Alert, app: str, secret: str | None = None) -> AlertPublic:
        return cls(
            id=alert.id,
            app=app,
            kind=alert.kind,
            target=alerts.target_of(alert),
            threshold=alert.threshold,
            for_minutes=alert.for_minutes,
            repeat=alert.repeat_minutes,
            state="firing" if alert.state == "firing" else "ok",
            last_fired=alert.last_fired_at,
            created_at=alert.created_at,
            secret=secret,
        )


@router.get("", response_model_by_alias=True, response_model_exclude_none=False)
def list_alerts(app: ViewerApp, session: SessionDep) -> list[AlertPublic]:
    return [AlertPublic.of(alert, app.name) for alert in alerts.list_alerts(session=session, app=app)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model_by_alias=True)
def add_alert(
    body: AlertCreate, app: AppDep, user: CurrentUser, session: SessionDep, context: ContextDep
) -> AlertPublic:
    request = alerts.AlertRequest(
        kind=body.kind,
        webhook=body.webhook,
        email=body.email,
        threshold=body.threshold,
        for_minutes=body.for_minutes,
        repeat_minutes=body.repeat_minutes,
    )
    alert, secret = alerts.add_alert(
        session=session,
        app=app,
        actor=user,
        cipher=context.cipher,
        request=request,
        limit=context.settings.wharf_max_alerts_per_app,
    )
    return AlertPublic.of(alert, app.name, secret if alert.webhook_url else None)


@router.delete("/{alert_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_alert(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)], app: AppDep, user: CurrentUser, session: SessionDep
) -> Response:
    alerts.remove_alert(session=session, app=app, actor=user, alert_id=alert_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
