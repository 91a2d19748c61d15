"""How the rest of the platform wakes the scheduler and asks it for restarts, through Redis.

The scheduler is level-triggered: it converges on what the database and the runtime say, and a
wake-up only makes it look sooner than its resync interval would. Losing a message loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

WAKE_CHANNEL = "wharf:scheduler:wake"
RESTART_TTL_SECONDS = 7 * 24 * 3600
ALL_DYNOS = "*"
_PENDING_APPS = "wharf.scheduler.changed-apps"
_installed: list[bool] = []


def restarts_key(app_name: str) -> str:
    return f"wharf:scheduler:restarts:{app_name}"


def wake_scheduler(client: redis.Redis[bytes], app_name: str = ALL_DYNOS) -> None:
    """Tell a listening scheduler that an app's desired state changed."""
    client.publish(WAKE_CHANNEL, app_name.encode())


def request_restart(client: redis.Redis[bytes], app_name: str, target: str | None) -> float:
    """Ask for the app's dynos matching `target` (all, a type, or a dyno like web.1) to be replaced.

    Stored as "replace whatever started before now", so the request holds across scheduler restarts
    and is satisfied by any dyno started later.
    """
    now = time.time()
    key = restarts_key(app_name)
    client.hset(key, target or ALL_DYNOS, repr(now))
    client.expire(key, RESTART_TTL_SECONDS)
    wake_scheduler(client, app_name)
    return now


def restart_requests(client: redis.Redis[bytes], app_name: str) -> dict[str, float]:
    """Target -> the time before which matching dynos are to be replaced."""
    return {k.decode(): float(v) for k, v in client.hgetall(restarts_key(app_name)).items()}


def matches_target(target: str, process_type: str, number: int) -> bool:
    return target in (ALL_DYNOS, process_type, f"{process_type}.{number}")


def install_change_notifier(client_for: Any, watched: Iterable[type]) -> None:
    """Wake the scheduler after any commit that touched rows of the `watched` models.

    `client_for()` returns the Redis client to publish on; it is called only when there is news.
    Publishing after the commit (not before) means the scheduler always reads what woke it.
    """
    kinds = tuple(watched)

    def collect(session: Session, _flush_context: object) -> None:
        changed = session.info.setdefault(_PENDING_APPS, set())
        for row in (*session.new, *session.dirty, *session.deleted):
            if isinstance(row, kinds):
                changed.add(getattr(row, "app_id", None) or getattr(row, "id", None))

    def publish(session: Session) -> None:
        changed = session.info.pop(_PENDING_APPS, None)
        if changed:
            try:
                wake_scheduler(client_for())
            except redis.RedisError:
                return

    def forget(session: Session) -> None:
        session.info.pop(_PENDING_APPS, None)

    if _installed:
        return
    _installed.append(True)
    event.listen(Session, "after_flush", collect)
    event.listen(Session, "after_commit", publish)
    event.listen(Session, "after_rollback", forget)
