"""An app's per-minute metrics (`wharf metrics`) and the events to mark on them; every app's metrics
in Prometheus' text format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from wharf.platform.actions.graph_events import graph_events
from wharf.platform.errors import Forbidden
from wharf.platform.metrics.app_points import app_points
from wharf.platform.metrics.prometheus import prometheus_text
from wharf.platform.metrics.store import MetricsStore
from wharf.platform.web.deps import ContextDep, CurrentUser, SessionDep, ViewerApp

router = APIRouter(tags=["metrics"])
prometheus_router = APIRouter(tags=["metrics"])


@router.get("/apps/{app_name}/metrics")
def app_metrics(
    app: ViewerApp, context: ContextDep, type: str | None = None, since: str = "30m"
) -> list[dict[str, Any]]:
    """Points of each minute, oldest first; `type` one process type (default: all), `since` like 30m or 1h."""
    return app_points(context.redis, app.name, process_type=type, since=since)


@router.get("/apps/{app_name}/metrics/events")
def app_metrics_events(
    app: ViewerApp, session: SessionDep, context: ContextDep, type: str | None = None, since: str = "30m"
) -> list[dict[str, Any]]:
    """Deploys, restarts, dyno exits and scaling since `since` ago, oldest first, for marking on graphs."""
    return graph_events(session=session, client=context.redis, app=app, process_type=type, since=since)


@prometheus_router.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics(user: CurrentUser, context: ContextDep) -> PlainTextResponse:
    """The last complete minute of every app, labelled by app and process type; operators only."""
    if not user.is_admin:
        raise Forbidden("Only an operator (an admin account's token) may read /metrics.")
    return PlainTextResponse(
        prometheus_text(MetricsStore(context.redis)), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
