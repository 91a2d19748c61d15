"""Autoscaling settings of an app's process types, and the history of what the autoscaler did."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, AutoscaleEvent, Autoscaling, User
from wharf.platform.records.releases import latest_release, lock_app
from wharf.platform.security.names import validate_process_type
from wharf.platform.settings import Quotas

EVENTS_SHOWN = 100
# The one process type that may autoscale to zero: it sleeps when idle, a request wakes it.
SLEEPING_TYPE = "web"
# A review app's web type: one dyno that sleeps when idle, as Heroku's review apps on eco dynos. The
# target is the highest --p95 takes, so it is the idle window, not the response time, that scales it.
REVIEW_APP_SLEEP = (0, 1, 60_000)


@dataclass(frozen=True)
class AutoscaleRequest:
    process_type: str
    min_dynos: int
    max_dynos: int
    p95_ms: int
    requests_per_dyno: int | None = None
    concurrency_per_dyno: int | None = None


def in_flight_limit(concurrency_per_dyno: int | None) -> str:
    """The concurrency target as said after the p95 target ("" when off)."""
    if concurrency_per_dyno is None:
        return ""
    return f" and at most {concurrency_per_dyno} requests in flight per dyno"


def list_autoscaling(*, session: Session, app: App) -> list[Autoscaling]:
    query = select(Autoscaling).where(Autoscaling.app_id == app.id).order_by(Autoscaling.process_type)
    return list(session.scalars(query))


def _check(session: Session, app: App, request: AutoscaleRequest, quotas: Quotas) -> None:
    validate_process_type(request.process_type)
    release = latest_release(session=session, app=app)
    known = set((release.process_types or {}) if release else {})
    if request.process_type not in known:
        on_offer = ", ".join(sorted(known)) or "none yet: push code with a Procfile first"
        raise BadRequest(
            f"Couldn't find that process type ({request.process_type}). Process types: {on_offer}.",
            error_id="unknown_process_type",
        )
    if request.min_dynos < 0 or (request.min_dynos == 0 and request.process_type != SLEEPING_TYPE):
        raise BadRequest(
            f"--min must be 1 or more ({SLEEPING_TYPE} alone takes --min 0: it sleeps when idle "
            "and wakes on the next request).",
            error_id="invalid_autoscale",
        )
    if request.max_dynos < max(request.min_dynos, 1):
        raise BadRequest("--max must be at least --min, and at least 1.", error_id="invalid_autoscale")
    if request.max_dynos > quotas.dynos_per_type:
        raise BadRequest(
            f"--max {request.max_dynos} is over the limit of {quotas.dynos_per_type} dynos per process type "
            "on this host (WHARF_MAX_DYNOS_PER_TYPE).",
            error_id="invalid_autoscale",
        )
    if not 10 <= request.p95_ms <= 60_000:
        raise BadRequest(
            "--p95 is the target in milliseconds, from 10 to 60000.", error_id="invalid_autoscale"
        )
    if request.requests_per_dyno is not None and request.requests_per_dyno < 1:
        raise BadRequest("--rpm-per-dyno must be 1 or more.", error_id="invalid_autoscale")
    if request.concurrency_per_dyno is not None and request.concurrency_per_dyno < 1:
        raise BadRequest(
            "--concurrency is the requests in flight one dyno takes on average: give 1 or more "
            "(e.g. --concurrency 8), or leave it out to scale without it.",
            error_id="invalid_autoscale",
        )


def set_autoscaling(
    *, session: Session, app: App, actor: User, request: AutoscaleRequest, quotas: Quotas
) -> Autoscaling:
    lock_app(session=session, app=app)
    _check(session, app, request, quotas)
    row = session.scalar(
        select(Autoscaling).where(
            Autoscaling.app_id == app.id, Autoscaling.process_type == request.process_type
        )
    )
    if row is None:
        row = Autoscaling(app_id=app.id, process_type=request.process_type)
        session.add(row)
    row.min_dynos = request.min_dynos
    row.max_dynos = request.max_dynos
    row.p95_ms = request.p95_ms
    row.requests_per_dyno = request.requests_per_dyno
    row.concurrency_per_dyno = request.concurrency_per_dyno
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="autoscale",
        app_name=app.name,
        message=(
            f"Autoscaling {request.process_type} between {request.min_dynos} and {request.max_dynos} dynos "
            f"for a p95 under {request.p95_ms} ms{in_flight_limit(request.concurrency_per_dyno)}, "
            f"set by {actor.email}"
        ),
    )
    return row


def sleep_review_app_when_idle(*, session: Session, app: App, actor: User) -> Autoscaling:
    """A new review app's web type autoscales between 0 and 1 dyno: it sleeps when idle and a request
    wakes it. Set before its first release (the autoscaler leaves a type alone until a release has it);
    `wharf ps:autoscale web --off` keeps it awake, `wharf ps:autoscale web ...` sets other bounds."""
    min_dynos, max_dynos, p95_ms = REVIEW_APP_SLEEP
    row = Autoscaling(
        app_id=app.id, process_type=SLEEPING_TYPE, min_dynos=min_dynos, max_dynos=max_dynos, p95_ms=p95_ms
    )
    session.add(row)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="autoscale",
        app_name=app.name,
        message=f"Review app: {SLEEPING_TYPE} sleeps when idle and wakes on the next request",
    )
    return row


def disable_autoscaling(*, session: Session, app: App, actor: User, process_type: str) -> Autoscaling:
    validate_process_type(process_type)
    row = session.scalar(
        select(Autoscaling).where(Autoscaling.app_id == app.id, Autoscaling.process_type == process_type)
    )
    if row is None:
        raise NotFound(f"{app.name} does not autoscale {process_type}.", error_id="autoscale_not_found")
    session.delete(row)
    record_event(
        session=session,
        actor=actor,
        action="autoscale",
        app_name=app.name,
        message=f"Autoscaling {process_type} turned off by {actor.email}",
    )
    return row


def list_autoscale_events(*, session: Session, app: App, limit: int = EVENTS_SHOWN) -> list[AutoscaleEvent]:
    query = select(AutoscaleEvent).where(AutoscaleEvent.app_id == app.id)
    return list(session.scalars(query.order_by(AutoscaleEvent.id.desc()).limit(limit)))
