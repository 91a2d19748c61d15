"""The app page's graphs read the app's per-minute metrics here, with the dashboard's session.

The answer is the API's own route function (`GET /api/apps/APP/metrics`, what `wharf metrics --json`
prints) called with the dashboard's session and viewer check, so the graphs show exactly those points.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wharf.platform.web.api.routes.metrics import app_metrics
from wharf.platform.web.dashboard.rendering import DashboardRoute
from wharf.platform.web.dashboard.session import DashboardUser, DashboardViewerApp
from wharf.platform.web.deps import ContextDep

router = APIRouter(prefix="/apps/{app_name}/metrics", route_class=DashboardRoute, include_in_schema=False)


@router.get("")
def graph_points(
    user: DashboardUser,
    app: DashboardViewerApp,
    context: ContextDep,
    type: str | None = None,
    since: str = "1h",
) -> list[dict[str, Any]]:
    return app_metrics(app=app, context=context, type=type, since=since)
