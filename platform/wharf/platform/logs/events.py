"""Recording who did what; each event of an app is also an `app[api]` line of its log.

It lives with the logs (not the actions) because log drains record events too, and the actions
import the logs: keeping it here lets both use it without the two packages importing each other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.logs.platform_lines import log_after_commit
from wharf.platform.models import Event, User


def record_event(
    *, session: Session, actor: User | None, action: str, message: str, app_name: str | None
) -> Event:
    event = Event(
        app_name=app_name,
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else "wharfd",
        action=action,
        message=message,
    )
    session.add(event)
    if app_name is not None:
        log_after_commit(session, app_name, message)
    return event


def list_app_events(
    *, session: Session, app_name: str, since: datetime | None = None, limit: int = 100
) -> list[Event]:
    """The app's events, newest first; SINCE (the app's creation) leaves out a former app of that name."""
    query = select(Event).where(Event.app_name == app_name)
    if since is not None:
        query = query.where(Event.created_at >= since)
    return list(session.scalars(query.order_by(Event.id.desc()).limit(limit)))
