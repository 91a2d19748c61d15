"""How the rest of the platform wakes the scheduler and asks it for restarts, through Redis.

The scheduler is level-triggered: it converges on what the database and the runtime say, and a
wake-up only makes it look sooner than its resync interval would. Losing a message loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

WAKE_CHANNEL = "wharf:scheduler:wake"
RESTART_TTL_SECONDS = 7 * 24 * 3600
ALL_DYNOS = "*"
# The runtime the installation's dynos run on, once `wharfd cluster init` moved them.
RUNTIME_KEY = "wharf:scheduler:runtime"


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


def restart_requests_of(client: redis.Redis[bytes], app_names: list[str]) -> dict[str, dict[str, float]]:
    """`restart_requests` of each app, read in one round trip to Redis."""
    pipeline = client.pipeline(transaction=False)
    for name in app_names:
        pipeline.hgetall(restarts_key(name))
    answers = pipeline.execute()
    return {
        name: {k.decode(): float(v) for k, v in answer.items()}
        for name, answer in zip(app_names, answers, strict=True)
    }


def hand_over_runtime(client: redis.Redis[bytes], runtime_name: str) -> None:
    """From now on only a scheduler on `runtime_name` acts; one on another runtime stands aside."""
    client.set(RUNTIME_KEY, runtime_name)
    wake_scheduler(client)


def end_stale_handover(client: redis.Redis[bytes], runtime_name: str) -> str | None:
    """For a scheduler starting on `runtime_name`, the runtime the installation's settings choose as it
    starts (WHARF_RUNTIME, else the choice `wharfd cluster init` kept in the data dir, else the
    default): a handover to another runtime is over, since the move that made it has ended or the
    installation went back (its choice removed from the data dir), so it is cleared. The runtime it
    named, or None when there was none or it named `runtime_name`."""
    chosen = client.get(RUNTIME_KEY)
    if chosen is None or chosen.decode() == runtime_name:
        return None
    client.delete(RUNTIME_KEY)
    return chosen.decode()


def runs_here(client: redis.Redis[bytes], runtime_name: str) -> bool:
    """Whether a scheduler on `runtime_name` may act (yes, unless the runtime was handed over)."""
    chosen = client.get(RUNTIME_KEY)
    return chosen is None or chosen.decode() == runtime_name


def matches_target(target: str, process_type: str, number: int) -> bool:
    return target in (ALL_DYNOS, process_type, f"{process_type}.{number}")


class ChangeNotifier:
    """Wakes the scheduler through its own Redis client after commits that touched watched rows.

    Each notifier keeps its pending changes under its own key of the session, so several (one per
    API app, say) each publish on their own client and none shadows another.
    """

    def __init__(self, client_for: Callable[[], redis.Redis[bytes]], watched: Iterable[type]) -> None:
        self._client_for = client_for
        self._kinds = tuple(watched)
        self._pending_key = f"wharf.scheduler.changed-apps.{id(self)}"

    def install(self) -> None:
        """Listen to every session's commits; a second call for the same notifier does nothing."""
        if event.contains(Session, "after_flush", self._collect):
            return
        event.listen(Session, "after_flush", self._collect)
        event.listen(Session, "after_commit", self._publish)
        event.listen(Session, "after_rollback", self._forget)

    def uninstall(self) -> None:
        if not event.contains(Session, "after_flush", self._collect):
            return
        event.remove(Session, "after_flush", self._collect)
        event.remove(Session, "after_commit", self._publish)
        event.remove(Session, "after_rollback", self._forget)

    def _collect(self, session: Session, _flush_context: object) -> None:
        changed = session.info.setdefault(self._pending_key, set())
        for row in (*session.new, *session.dirty, *session.deleted):
            if isinstance(row, self._kinds):
                changed.add(getattr(row, "app_id", None) or getattr(row, "id", None))

    def _publish(self, session: Session) -> None:
        if not session.info.pop(self._pending_key, None):
            return
        try:
            wake_scheduler(self._client_for())
        except redis.RedisError:
            return

    def _forget(self, session: Session) -> None:
        session.info.pop(self._pending_key, None)


def install_change_notifier(
    client_for: Callable[[], redis.Redis[bytes]], watched: Iterable[type]
) -> ChangeNotifier:
    """Wake the scheduler after any commit that touched rows of the `watched` models.

    `client_for()` returns the Redis client to publish on; it is called only when there is news.
    Publishing after the commit (not before) means the scheduler always reads what woke it.
    """
    notifier = ChangeNotifier(client_for, watched)
    notifier.install()
    return notifier
