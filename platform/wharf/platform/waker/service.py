"""The `waker` component of `wharfd services`: the waker's server with the control plane's hooks."""

from __future__ import annotations

import json
import threading

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wharf.platform.actions.autoscale import SLEEPING_TYPE
from wharf.platform.actions.formation import FormationChange, list_formation, update_formation
from wharf.platform.autoscale.sleep import asleep_since, clear_asleep
from wharf.platform.db import session_factory
from wharf.platform.models import App, AutoscaleEvent, Autoscaling
from wharf.platform.routing import BACKENDS_KEY
from wharf.platform.scheduler.notify import wake_scheduler
from wharf.platform.settings import Settings
from wharf.platform.waker.holding import HeldRequests
from wharf.platform.waker.server import Waker, WakerHooks, WakerServer

# The router's own limit for a dyno's answer (RouterSettings.request_timeout).
REQUEST_TIMEOUT = 30.0


def _sleeping_setting(session: Session, app_name: str) -> tuple[App, Autoscaling] | None:
    app = session.scalar(select(App).where(App.name == app_name))
    if app is None:
        return None
    setting = session.scalar(
        select(Autoscaling).where(Autoscaling.app_id == app.id, Autoscaling.process_type == SLEEPING_TYPE)
    )
    return None if setting is None or setting.min_dynos != 0 else (app, setting)


def wake_app(sessions: sessionmaker[Session], client: redis.Redis[bytes], app_name: str) -> bool:
    """Formation back to min(1, max) through update_formation, an autoscale event, and the scheduler
    woken to start the dyno now rather than on its next resync; False: not asleep."""
    with sessions() as session:
        found = _sleeping_setting(session, app_name)
        if found is None:
            return False
        app, setting = found
        current = {r.process_type: r.quantity for r in list_formation(session=session, app=app)}
        if current.get(SLEEPING_TYPE, 0) > 0:
            return True
        quantity = min(1, setting.max_dynos)
        change = FormationChange(process_type=SLEEPING_TYPE, quantity=quantity)
        update_formation(session=session, app=app, actor=None, changes=[change])
        reason = "wake: a request arrived while asleep"
        session.add(
            AutoscaleEvent(
                app_id=app.id,
                process_type=SLEEPING_TYPE,
                from_quantity=0,
                to_quantity=quantity,
                reason=reason,
            )
        )
        session.commit()
    wake_scheduler(client, app_name)
    return True


def routed_backend(client: redis.Redis[bytes], app_name: str) -> tuple[str, int] | None:
    raw = client.hget(BACKENDS_KEY, app_name)
    backends = json.loads(raw) if raw else []
    return (str(backends[0]["host"]), int(backends[0]["port"])) if backends else None


def hooks_for(settings: Settings, client: redis.Redis[bytes]) -> WakerHooks:
    sessions = session_factory(settings.resolved_database_url)

    def is_asleep(app_name: str) -> bool:
        if asleep_since(client, app_name) is None:
            return False
        with sessions() as session:
            return _sleeping_setting(session, app_name) is not None

    return WakerHooks(
        is_asleep=is_asleep,
        wake=lambda app_name: wake_app(sessions, client, app_name),
        backend=lambda app_name: routed_backend(client, app_name),
        woke=lambda app_name: clear_asleep(client, app_name),
    )


def run_waker(settings: Settings, stop: threading.Event) -> None:
    client = redis.Redis.from_url(settings.resolved_redis_url)
    held = HeldRequests(per_app=settings.wharf_waker_max_held_per_app, total=settings.wharf_waker_max_held)
    waker = Waker(
        hooks_for(settings, client),
        held,
        timeout=settings.wharf_wake_timeout_seconds,
        request_timeout=REQUEST_TIMEOUT,
    )
    server = WakerServer(("127.0.0.1", settings.wharf_waker_port), waker)
    thread = threading.Thread(target=server.serve_forever, name="waker-http", daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    server.server_close()
