"""The live log view: a page whose EventSource reads the API's server-sent log stream.

The stream is the API's own route function called with the dashboard's session and ownership
check, so a browser never needs a bearer token and sees exactly what `wharf logs --tail` shows.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from wharf.platform.actions.apps import may_still_read
from wharf.platform.logs.stream import SOURCES
from wharf.platform.web.dashboard.rendering import DashboardRoute, render
from wharf.platform.web.dashboard.session import SESSION_COOKIE, DashboardUser, DashboardViewerApp
from wharf.platform.web.deps import ContextDep
from wharf.platform.web.log_events import MAX_NUM, LogQuery, TailHolder, log_event_stream

router = APIRouter(prefix="/apps/{app_name}/logs", route_class=DashboardRoute, include_in_schema=False)


@router.get("")
def logs_page(request: Request, user: DashboardUser, app: DashboardViewerApp, source: str = "") -> Response:
    chosen = source if source in SOURCES else ""
    return render(request, "logs.html", {"user": user, "app": app, "sources": SOURCES, "source": chosen})


@router.get("/stream")
def logs_stream(
    request: Request,
    user: DashboardUser,
    app: DashboardViewerApp,
    context: ContextDep,
    num: Annotated[int, Query(ge=0, le=MAX_NUM)] = 100,
    source: str | None = None,
    dyno: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    return log_event_stream(
        client=context.redis,
        tails=context.log_tails,
        holder=TailHolder(
            user_id=user.id,
            still_allowed=partial(
                may_still_read,
                database_url=context.database_url,
                token_secret=request.cookies.get(SESSION_COOKIE, ""),
                app_id=app.id,
            ),
        ),
        app_name=app.name,
        query=LogQuery(
            num=num, tail=True, source=source or None, dyno=dyno or None, last_event_id=last_event_id
        ),
    )
