"""Formation: desired dyno counts and sizes per process type."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest
from wharf.platform.formation_quotas import check_formation_quotas
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Formation, User
from wharf.platform.records.releases import latest_release, lock_app
from wharf.platform.security.names import validate_process_type
from wharf.platform.settings import Quotas, get_settings

# Memory per dyno size, in MiB, and CPU share (Heroku's basic/standard/performance ladder).
DYNO_SIZES: dict[str, tuple[int, float]] = {
    "basic": (512, 0.5),
    "standard": (1024, 1.0),
    "performance": (2048, 2.0),
}
# The dashboard's form bound; the operator's WHARF_MAX_DYNOS_PER_TYPE is checked on every change.
MAX_QUANTITY = Quotas().dynos_per_type


@dataclass(frozen=True)
class FormationChange:
    process_type: str
    quantity: int | None = None
    size: str | None = None


def list_formation(*, session: Session, app: App) -> list[Formation]:
    return list(
        session.scalars(select(Formation).where(Formation.app_id == app.id).order_by(Formation.process_type))
    )


def _validate(change: FormationChange, known_types: set[str]) -> None:
    validate_process_type(change.process_type)
    if change.process_type not in known_types:
        on_offer = ", ".join(sorted(known_types)) or "none yet: push code with a Procfile first"
        raise BadRequest(
            f"Couldn't find that process type ({change.process_type}). Process types: {on_offer}.",
            error_id="unknown_process_type",
        )
    if change.quantity is not None and change.quantity < 0:
        raise BadRequest("Quantity must be 0 or more.", error_id="invalid_quantity")
    if change.size is not None and change.size not in DYNO_SIZES:
        raise BadRequest(
            f"Unknown dyno size {change.size}. Sizes: {', '.join(DYNO_SIZES)}.", error_id="invalid_size"
        )


def update_formation(
    *,
    session: Session,
    app: App,
    actor: User | None,
    changes: list[FormationChange],
    quotas: Quotas | None = None,
) -> list[Formation]:
    """Apply the changes; QUOTAS defaults to the operator's settings. ACTOR None: the autoscaler."""
    if not changes:
        raise BadRequest("No process types given. Usage: wharf ps:scale web=2", error_id="no_changes")
    lock_app(session=session, app=app)
    release = latest_release(session=session, app=app)
    known_types = set((release.process_types or {}) if release else {})
    for change in changes:
        _validate(change, known_types)
    current = {f.process_type: f for f in list_formation(session=session, app=app)}
    for change in changes:
        row = current.get(change.process_type)
        if row is None:
            row = Formation(app_id=app.id, process_type=change.process_type, quantity=0, size="basic")
            session.add(row)
            current[change.process_type] = row
        if change.quantity is not None:
            row.quantity = change.quantity
        if change.size is not None:
            row.size = change.size
    check_formation_quotas(
        {row.process_type: row.quantity for row in current.values()}, quotas or get_settings().quotas
    )
    session.flush()
    summary = ", ".join(
        f"{r.process_type}@{r.quantity}:{r.size}"
        for r in sorted(current.values(), key=lambda r: r.process_type)
    )
    record_event(
        session=session,
        actor=actor,
        action="scale",
        app_name=app.name,
        message=f"Scaled to {summary} by {actor.email if actor else 'the autoscaler'}",
    )
    return sorted(current.values(), key=lambda r: r.process_type)
