"""The alert loop: evaluate every alert, move it between ok and firing, and have its news delivered.

An alert fires when its condition starts to hold, is repeated no more often than its `repeat_minutes`
while the condition holds, and resolves when it clears. Each firing and resolving is also an
`app[alerts]` line of the app's log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wharf.platform.actions.formation import DYNO_SIZES, list_formation
from wharf.platform.alerts import conditions
from wharf.platform.alerts.conditions import Reading
from wharf.platform.alerts.delivery import Notification
from wharf.platform.db import utcnow
from wharf.platform.metrics.points import MetricsReader
from wharf.platform.models import Alert, App, Build
from wharf.platform.records.releases import latest_release
from wharf.platform.runtime.base import Dyno
from wharf.platform.security.crypto import ConfigCipher

log = logging.getLogger(__name__)

DynoLister = Callable[[str], Sequence[Dyno]]
LineWriter = Callable[[str, str], None]


class AlertEvaluator:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        cipher: ConfigCipher,
        metrics: MetricsReader,
        dynos: DynoLister,
        notify: Callable[[Notification], None],
        write_line: LineWriter | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.metrics = metrics
        self.dynos = dynos
        self.notify = notify
        self.write_line = write_line
        self.clock = clock

    def evaluate_once(self) -> list[Notification]:
        """One pass over every alert; the notifications it sent."""
        sent: list[Notification] = []
        with self.sessions() as session:
            rows = session.execute(
                select(Alert, App).join(App, App.id == Alert.app_id).order_by(Alert.id)
            ).all()
            for alert, app in rows:
                try:
                    reading = self.read(session, alert, app)
                except Exception:
                    log.exception("alert %d of %s could not be evaluated", alert.id, app.name)
                    continue
                notification = self._transition(alert, app, reading)
                if notification is not None:
                    sent.append(notification)
            session.commit()
        for notification in sent:
            if self.write_line is not None:
                self.write_line(
                    notification.app,
                    f"Alert {notification.alert_id} ({notification.kind}) {notification.state}: "
                    f"{notification.detail}",
                )
            self.notify(notification)
        return sent

    def read(self, session: Session, alert: Alert, app: App) -> Reading:
        threshold = alert.threshold or 0.0
        minutes = alert.for_minutes
        if alert.kind == "crash":
            # Dynos of older releases are being retired by a deploy: only the live release's count.
            live = [d for d in self.dynos(app.name) if d.release == app.current_release_version]
            return conditions.crash_loop(live, restarts=threshold or 3, now=self.clock())
        if alert.kind == "deploy":
            build = session.scalar(
                select(Build).where(Build.app_id == app.id).order_by(Build.id.desc()).limit(1)
            )
            release = latest_release(session=session, app=app)
            return conditions.failed_deploy(
                build_status=build.status if build else None,
                build_failure=build.failure if build else None,
                release_status=release.status if release else None,
            )
        since = timedelta(minutes=minutes + 2)
        if alert.kind == "p95":
            points = self.metrics.minute_points(app.name, since=since)
            return conditions.slow_p95(points, threshold_ms=threshold, minutes=minutes)
        if alert.kind == "errors":
            points = self.metrics.minute_points(app.name, since=since)
            return conditions.errors_over(points, threshold_percent=threshold, minutes=minutes)
        if alert.kind == "memory":
            readings = []
            for row in list_formation(session=session, app=app):
                if row.quantity <= 0:
                    continue
                points = self.metrics.minute_points(app.name, process_type=row.process_type, since=since)
                limit_mb = float(DYNO_SIZES.get(row.size, DYNO_SIZES["basic"])[0])
                reading = conditions.memory_over(
                    points, threshold_percent=threshold, minutes=minutes, limit_mb=limit_mb
                )
                readings.append(Reading(reading.holds, f"{row.process_type}: {reading.detail}"))
            firing = [r for r in readings if r.holds]
            if firing:
                return Reading(True, " ".join(r.detail for r in firing))
            return Reading(False, " ".join(r.detail for r in readings) or "No dynos run.")
        return Reading(False, f"Unknown alert kind {alert.kind}.")

    def _transition(self, alert: Alert, app: App, reading: Reading) -> Notification | None:
        now = self.clock()
        if reading.holds:
            if alert.state != "firing":
                alert.state = "firing"
                alert.last_fired_at = now
            elif alert.last_notified_at is not None and now - alert.last_notified_at < timedelta(
                minutes=alert.repeat_minutes
            ):
                return None
            alert.last_notified_at = now
            return self._notification(alert, app, "firing", reading.detail, now)
        if alert.state == "firing":
            alert.state = "ok"
            alert.last_notified_at = None
            return self._notification(alert, app, "resolved", reading.detail, now)
        return None

    def _notification(self, alert: Alert, app: App, state: str, detail: str, now: datetime) -> Notification:
        return Notification(
            alert_id=alert.id,
            app=app.name,
            kind=alert.kind,
            state=state,
            detail=detail,
            time=now.isoformat(),
            threshold=alert.threshold,
            for_minutes=alert.for_minutes,
            webhook_url=alert.webhook_url,
            email=alert.email,
            secret=self.cipher.decrypt(alert.secret_ciphertext)["secret"],
        )

    def run(self, stop: threading.Event, interval: float) -> None:
        while True:
            try:
                self.evaluate_once()
            except Exception:
                log.exception("alert evaluation failed")
            if stop.wait(interval):
                return
