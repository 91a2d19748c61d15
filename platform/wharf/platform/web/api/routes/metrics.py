"""An app's per-minute metrics (`wharf metrics`), and every app's in Prometheus' text format."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from wharf.platform.errors import BadRequest, Forbidden
from wharf.platform.metrics.prometheus import prometheus_text
from wharf.platform.metrics.store import MetricsStore, parse_since
from wharf.platform.web.deps import ContextDep, CurrentUser, ViewerApp

router = APIRouter(tags=["metrics"])
prometheus_router = APIRouter(tags=["metrics"])

PROCESS_TYPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")


@router.get("/apps/{app_name}/metrics")
def app_metrics(
    app: ViewerApp, context: ContextDep, type: str | None = None, since: str = "30m"
) -> list[dict[str, Any]]:
    """Points of each minute, oldest first; `type` one process type (default: all), `since` like 30m or 1h."""
    if type is not None and not PROCESS_TYPE.fullmatch(type):
        raise BadRequest(f"type must be a process type such as web or worker, not {type!r}")
    try:
        window = parse_since(since)
    except ValueError as error:
        raise BadRequest(str(error)) from error
    points = MetricsStore(context.redis).minute_points(app.name, process_type=type, since=window)
    return [point.as_json() for point in points]


@prometheus_router.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics(user: CurrentUser, context: ContextDep) -> PlainTextResponse:
    """The last complete minute of every app, labelled by app and process type; operators only."""
    if not user.is_admin:
        raise Forbidden("Only an operator (an admin account's token) may read /metrics.")
    return PlainTextResponse(
        prometheus_text(MetricsStore(context.redis)), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
