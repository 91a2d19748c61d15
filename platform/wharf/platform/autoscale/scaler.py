"""The autoscaling loop: once a minute, decide for every autoscaled process type and apply the change
through the formation action (`wharf ps:scale`'s), so quotas and the scheduler's wake-up apply as for
a person scaling. Each change is an autoscale event and an `app[autoscale]` line of the app's log.

Decisions keep to the interval's grid, a few seconds after each minute ends with the default 60 s, so
every decision reads a minute that has just ended and whose routers have flushed it.

A web type with min 0 sleeps (0 dynos) after IDLE_WINDOW without a request; ON_ASLEEP then tells the
router (wharf.platform.autoscale.sleep) so the waker answers its next request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wharf.platform.actions.autoscale import SLEEPING_TYPE
from wharf.platform.actions.formation import FormationChange, list_formation, update_formation
from wharf.platform.autoscale.policy import (
    DOWN_STEP_INTERVAL,
    DOWN_WINDOW,
    Decision,
    History,
    Policy,
    decide,
)
from wharf.platform.db import utcnow
from wharf.platform.errors import WharfError
from wharf.platform.metrics.points import MetricsReader, MinutePoint
from wharf.platform.models import App, AutoscaleEvent, Autoscaling
from wharf.platform.records.releases import latest_release

log = logging.getLogger(__name__)
LineWriter = Callable[[str, str], None]
AsleepMarker = Callable[[str, datetime], None]
IDLE_WINDOW = timedelta(minutes=30)
# After a minute ends, the routers' last flush of it (every 5 s) has landed.
DECISION_SETTLE_SECONDS = 6.0


def seconds_to_next_decision(now: float, interval: float, settle: float = DECISION_SETTLE_SECONDS) -> float:
    """From NOW (epoch seconds) to the next decision: SETTLE seconds (at most half an interval) past a
    multiple of INTERVAL, which for 60 s is a few seconds after the minute ends."""
    offset = min(settle, interval / 2)
    delay = (offset - now) % interval
    return delay if delay > 0 else interval


def last_complete_minute(points: Sequence[MinutePoint], now: datetime) -> MinutePoint | None:
    """The newest point of a minute that has ended (the current one is still filling)."""
    this_minute = now.replace(second=0, microsecond=0)
    done = [point for point in points if point.time < this_minute]
    return done[-1] if done else None


def last_request_at(points: Sequence[MinutePoint], now: datetime) -> datetime | None:
    """The end of the newest minute with a request (now, for the minute still filling)."""
    busy = [point.time for point in points if point.requests > 0]
    return min(max(busy) + timedelta(minutes=1), now) if busy else None


class Autoscaler:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        metrics: MetricsReader,
        down_window: timedelta = DOWN_WINDOW,
        down_step: timedelta = DOWN_STEP_INTERVAL,
        write_line: LineWriter | None = None,
        clock: Callable[[], datetime] = utcnow,
        idle_window: timedelta = IDLE_WINDOW,
        on_asleep: AsleepMarker | None = None,
    ) -> None:
        self.sessions = sessions
        self.metrics = metrics
        self.down_window = down_window
        self.down_step = down_step
        self.write_line = write_line
        self.clock = clock
        self.idle_window = idle_window
        self.on_asleep = on_asleep
        self.histories: dict[tuple[int, str], History] = {}

    def scale_once(self) -> list[AutoscaleEvent]:
        now = self.clock()
        events: list[AutoscaleEvent] = []
        with self.sessions() as session:
            rows = session.execute(select(Autoscaling, App).join(App, App.id == Autoscaling.app_id)).all()
            wanted = [(setting.id, app.id) for setting, app in rows]
        seen: set[tuple[int, str]] = set()
        for setting_id, app_id in wanted:
            with self.sessions() as session:
                setting = session.get(Autoscaling, setting_id)
                app = session.get(App, app_id)
                if setting is None or app is None:
                    continue
                seen.add((app.id, setting.process_type))
                try:
                    event = self._scale(session, app, setting, now)
                except WharfError as error:
                    session.rollback()
                    log.warning("autoscaling %s %s: %s", app.name, setting.process_type, error)
                    continue
                if event is not None:
                    session.commit()
                    events.append(event)
                    if self.write_line is not None:
                        self.write_line(
                            app.name,
                            f"Scaled {event.process_type} from {event.from_quantity} to {event.to_quantity}: "
                            f"{event.reason}",
                        )
        self.histories = {key: value for key, value in self.histories.items() if key in seen}
        return events

    def _scale(
        self, session: Session, app: App, setting: Autoscaling, now: datetime
    ) -> AutoscaleEvent | None:
        kind = setting.process_type
        release = latest_release(session=session, app=app)
        if release is None or kind not in (release.process_types or {}):
            # Nothing of this type has been released (a review app before its first build): leave it be.
            return None
        current = next(
            (r.quantity for r in list_formation(session=session, app=app) if r.process_type == kind), 0
        )
        points = self.metrics.minute_points(app.name, process_type=kind, since=timedelta(minutes=3))
        policy = Policy(
            min_dynos=setting.min_dynos,
            max_dynos=setting.max_dynos,
            p95_ms=float(setting.p95_ms),
            requests_per_dyno=setting.requests_per_dyno,
            concurrency_per_dyno=setting.concurrency_per_dyno,
            down_window=self.down_window,
            down_step=self.down_step,
            idle_window=self.idle_window if kind == SLEEPING_TYPE else None,
        )
        key = (app.id, kind)
        decision: Decision = decide(
            current=current,
            point=last_complete_minute(points, now),
            policy=policy,
            history=self.histories.get(key, History()),
            now=now,
            last_request_at=last_request_at(points, now),
        )
        self.histories[key] = decision.history
        if decision.quantity == 0 and setting.min_dynos == 0 and self.on_asleep is not None:
            # Before the dynos stop: the router hands requests to the waker, never a "no web dynos".
            self.on_asleep(app.name, now)
        if not decision.changes(current):
            return None
        update_formation(
            session=session,
            app=app,
            actor=None,
            changes=[FormationChange(process_type=kind, quantity=decision.quantity)],
        )
        event = AutoscaleEvent(
            app_id=app.id,
            process_type=kind,
            from_quantity=current,
            to_quantity=decision.quantity,
            reason=decision.reason[:500],
        )
        session.add(event)
        session.flush()
        return event

    def run(self, stop: threading.Event, interval: float) -> None:
        while True:
            try:
                self.scale_once()
            except Exception:
                log.exception("autoscaling failed")
            if stop.wait(seconds_to_next_decision(time.time(), interval)):
                return
