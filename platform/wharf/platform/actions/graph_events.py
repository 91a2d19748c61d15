"""What happened to an app, for marking on its graphs' time axis: deploys, restarts, crashes, scaling.

Read from where each is recorded: releases (deploys, by version), the app's audit events (restarts,
scaling by hand or by the autoscaler, autoscaling settings) and the dyno metrics (dyno exits, counted
per minute with their exit codes). `GET /api/apps/APP/metrics/events` and the dashboard's graphs both
answer with `graph_events`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.logs.events import list_app_events
from wharf.platform.metrics.app_points import check_process_type, since_window
from wharf.platform.metrics.store import DynoExits, MetricsStore
from wharf.platform.models import App, Event, Release

# Per source: a busy hour of an app stays readable, and a week of a crash loop stays a bounded answer.
MAX_PER_SOURCE = 200
AUDIT_KINDS = ("restart", "scale", "autoscale")
FAILED = "failed"


def graph_events(
    *, session: Session, client: redis.Redis[bytes], app: App, process_type: str | None, since: str
) -> list[dict[str, Any]]:
    """The app's events since `since` ago (30m, 1h, 7d), oldest first, each with time, kind, label
    and message; `process_type` narrows the dyno exits to one type (the rest concern the app)."""
    check_process_type(process_type)
    window = since_window(since)
    cutoff = max(datetime.now(UTC) - window, app.created_at)
    events = [*_deploys(session, app, cutoff), *_audit_events(session, app, cutoff)]
    exits = MetricsStore(client).dyno_exits(app.name, process_type=process_type, since=window)
    events += [event for minute in exits[-MAX_PER_SOURCE:] for event in _crashes(minute)]
    events.sort(key=lambda event: event["time"])
    return events


def _event(at: datetime, kind: str, label: str, message: str) -> dict[str, Any]:
    return {"time": at.astimezone(UTC).isoformat(), "kind": kind, "label": label, "message": message}


def _deploys(session: Session, app: App, cutoff: datetime) -> list[dict[str, Any]]:
    query = (
        select(Release)
        .where(Release.app_id == app.id, Release.created_at >= cutoff)
        .order_by(Release.version.desc())
        .limit(MAX_PER_SOURCE)
    )
    found = []
    for release in session.scalars(query):
        failed = release.status == FAILED
        label = f"v{release.version} deploy" + (" failed" if failed else "")
        kind = "deploy-failed" if failed else "deploy"
        found.append(_event(release.created_at, kind, label, f"v{release.version}: {release.description}"))
    return found


def _audit_events(session: Session, app: App, cutoff: datetime) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    listed = list_app_events(session=session, app_name=app.name, since=cutoff, limit=10 * MAX_PER_SOURCE)
    for event in listed:
        if event.action in AUDIT_KINDS and len(found) < MAX_PER_SOURCE:
            found.append(_event(event.created_at, event.action, _audit_label(event), event.message))
    return found


def _audit_label(event: Event) -> str:
    if event.action == "scale":
        return "autoscaled" if event.actor_id is None else "scaled"
    if event.action == "autoscale":
        return "autoscaling changed"
    return "restart"


def _crashes(minute: DynoExits) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for (process_type, code), count in sorted(minute.codes.items()):
        times = f" ({count} dynos)" if count > 1 else ""
        label = f"{process_type} exit {code}{times}"
        message = f"{count} {process_type} dyno(s) exited with code {code}"
        found.append(_event(minute.time, "crash", label, message))
    return found
