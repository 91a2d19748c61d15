"""The platform's own lines in an app's log: audit events as `app[api]`, build output as `app[build]`.

Writing a log line must never fail the action it describes, so Redis errors are logged and dropped.
Audit events are written once their database transaction commits, so a rolled back change leaves
no line behind. Each process installs one `PlatformLines` with its own writer at start-up (its
settings are passed in, never looked up here); without one, committed audit lines are dropped.
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from wharf.platform.logs.stream import LogLine, LogWriter, clean_line, now_iso
from wharf.platform.settings import Settings

logger = logging.getLogger(__name__)
PENDING_KEY = "wharf_log_lines"
_installed: list[PlatformLines] = []


class PlatformLines:
    """Writes platform lines through one LogWriter, now or when a session commits."""

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer

    def write(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        try:
            self.writer.write_many(lines)
        except (redis.RedisError, OSError):
            logger.warning("could not write %d line(s) to the app log", len(lines), exc_info=True)

    def line(self, app: str, *, source: str, dyno: str, line: str) -> None:
        """Write one line now; for code that is not inside a database transaction."""
        self.write([LogLine(app=app, ts=now_iso(), source=source, dyno=dyno, line=clean_line(line))])

    def install(self) -> None:
        """Write the lines `log_after_commit` queues, in place of any previously installed writer.

        Session events are process-wide, so exactly one writer handles them; the last installed wins.
        """
        _installed[:] = [self]

    def uninstall(self) -> None:
        if self in _installed:
            _installed.remove(self)


def platform_lines_for(settings: Settings) -> PlatformLines:
    """A writer on the settings' Redis with their retention limits."""
    client = redis.Redis.from_url(settings.resolved_redis_url, socket_connect_timeout=2, socket_timeout=5)
    writer = LogWriter(
        client, max_lines=settings.wharf_log_max_lines, max_age_hours=settings.wharf_log_max_age_hours
    )
    return PlatformLines(writer)


def install_platform_lines(settings: Settings) -> PlatformLines:
    """Make audit events of this process `app[api]` lines of their app's log."""
    lines = platform_lines_for(settings)
    lines.install()
    return lines


def log_after_commit(session: Session, app: str, line: str) -> None:
    """Queue `app[api]: line` for when `session` commits (nothing if it rolls back)."""
    pending: list[LogLine] = session.info.setdefault(PENDING_KEY, [])
    pending.append(LogLine(app=app, ts=now_iso(), source="api", dyno="api", line=clean_line(line)))


@event.listens_for(Session, "after_commit")
def _write_pending(session: Session) -> None:
    lines: list[LogLine] = session.info.pop(PENDING_KEY, [])
    for installed in _installed:
        installed.write(lines)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
