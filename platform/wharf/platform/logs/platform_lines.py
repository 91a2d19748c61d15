"""The platform's own lines in an app's log: audit events as `app[api]`, build output as `app[build]`.

Writing a log line must never fail the action it describes, so Redis errors are logged and dropped.
Audit events are written once their database transaction commits, so a rolled back change leaves
no line behind.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from wharf.platform.logs.stream import LogLine, LogWriter, clean_line, now_iso
from wharf.platform.settings import get_settings

logger = logging.getLogger(__name__)
PENDING_KEY = "wharf_log_lines"


@lru_cache(maxsize=4)
def _writer(redis_url: str, max_lines: int, max_age_hours: float) -> LogWriter:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    return LogWriter(client, max_lines=max_lines, max_age_hours=max_age_hours)


def settings_writer() -> LogWriter:
    """The writer for this process's settings (REDIS_URL and the retention limits)."""
    settings = get_settings()
    return _writer(
        settings.resolved_redis_url, settings.wharf_log_max_lines, settings.wharf_log_max_age_hours
    )


def write_lines(lines: list[LogLine]) -> None:
    if not lines:
        return
    try:
        settings_writer().write_many(lines)
    except (redis.RedisError, OSError):
        logger.warning("could not write %d line(s) to the app log", len(lines), exc_info=True)


def log_platform_line(app: str, *, source: str, dyno: str, line: str) -> None:
    """Write one line now; for code that is not inside a database transaction."""
    write_lines([LogLine(app=app, ts=now_iso(), source=source, dyno=dyno, line=clean_line(line))])


def log_after_commit(session: Session, app: str, line: str) -> None:
    """Write `app[api]: line` when `session` commits (nothing if it rolls back)."""
    pending: list[LogLine] = session.info.setdefault(PENDING_KEY, [])
    pending.append(LogLine(app=app, ts=now_iso(), source="api", dyno="api", line=clean_line(line)))


@event.listens_for(Session, "after_commit")
def _write_pending(session: Session) -> None:
    write_lines(session.info.pop(PENDING_KEY, []))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
