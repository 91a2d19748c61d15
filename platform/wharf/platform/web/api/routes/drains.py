"""Log drains of an app: list, add, remove (by URL or token)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from wharf.platform.logs import drains
from wharf.platform.models import LogDrain
from wharf.platform.web.deps import AdminApp, CurrentUser, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/drains", tags=["drains"])


class DrainCreate(BaseModel):
    url: str


class DrainPublic(BaseModel):
    id: int
    url: str
    token: str
    created_at: datetime

    @classmethod
    def of(cls, drain: LogDrain) -> DrainPublic:
        return cls(id=drain.id, url=drain.url, token=drain.token, created_at=drain.created_at)


@router.get("")
def list_drains(app: ViewerApp, session: SessionDep) -> list[DrainPublic]:
    return [DrainPublic.of(drain) for drain in drains.list_drains(session=session, app=app)]


@router.post("", status_code=status.HTTP_201_CREATED)
def add_drain(body: DrainCreate, app: AdminApp, user: CurrentUser, session: SessionDep) -> DrainPublic:
    return DrainPublic.of(drains.add_drain(session=session, app=app, actor=user, url=body.url))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def remove_drain(url: str, app: AdminApp, user: CurrentUser, session: SessionDep) -> Response:
    """`url` is the drain's URL or its token."""
    drains.remove_drain(session=session, app=app, actor=user, url_or_token=url)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
