"""The app page's graphs read the app's per-minute metrics here, with the dashboard's session.

The answer is what `GET /api/apps/APP/metrics` (and so `wharf metrics --json`) answers, read by the same
`app_points` with the dashboard's session and viewer check, so the graphs show exactly those points; the
events marked on them are `GET /api/apps/APP/metrics/events`' answer, read by the same `graph_events`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wharf.platform.actions.graph_events import graph_events
from wharf.platform.metrics.app_points import app_points
from wharf.platform.web.dashboard.rendering import DashboardRoute
from wharf.platform.web.dashboard.session import DashboardUser, DashboardViewerApp
from wharf.platform.web.deps import ContextDep, SessionDep

router = APIRouter(prefix="/apps/{app_name}/metrics", route_class=DashboardRoute, include_in_schema=False)


@router.get("")
def graph_points(
    user: DashboardUser,
    app: DashboardViewerApp,
    context: ContextDep,
    type: str | None = None,
    since: str = "1h",
) -> list[dict[str, Any]]:
    return app_points(context.redis, app.name, process_type=type, since=since)


@router.get("/events")
def graph_markers(
    user: DashboardUser,
    app: DashboardViewerApp,
    session: SessionDep,
    context: ContextDep,
    type: str | None = None,
    since: str = "1h",
) -> list[dict[str, Any]]:
    return graph_events(session=session, client=context.redis, app=app, process_type=type, since=since)
