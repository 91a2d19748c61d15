"""What each section of an app's page shows, read through the same services the API uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.actions import alerts, autoscale, domains, dynos, formation
from wharf.platform.actions.dynos import DynoStatus
from wharf.platform.addons.base import KINDS
from wharf.platform.addons.lifecycle import list_addons
from wharf.platform.models import App, Release, User
from wharf.platform.records import builds, releases
from wharf.platform.testphase import records as test_records
from wharf.platform.web.context import ApiContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessRow:
    """A process type with its desired dynos: every type of the release, scaled or not."""

    process_type: str
    command: str
    quantity: int
    size: str


@dataclass(frozen=True)
class ReleaseRow:
    release: Release
    created_by: str | None
    current: bool


def process_rows(*, session: Session, app: App) -> list[ProcessRow]:
    latest = releases.latest_release(session=session, app=app)
    declared: dict[str, Any] = dict((latest.process_types or {}) if latest else {})
    scaled = {row.process_type: row for row in formation.list_formation(session=session, app=app)}
    rows = []
    for process_type in sorted(set(declared) | set(scaled)):
        row = scaled.get(process_type)
        rows.append(
            ProcessRow(
                process_type=process_type,
                command=str(declared.get(process_type, "")),
                quantity=row.quantity if row else 0,
                size=row.size if row else "basic",
            )
        )
    return rows


@dataclass(frozen=True)
class GraphLimit:
    """A choice of the graphs' process type selector, with its dyno size's memory and CPU limits;
    for all types (process_type ""), the largest of them, as memory is the largest dyno's."""

    process_type: str
    memory_mb: int
    cpu_percent: int


def graph_limits(processes: list[ProcessRow]) -> list[GraphLimit]:
    limits = []
    for row in processes:
        memory_mb, cpus = formation.DYNO_SIZES.get(row.size, formation.DYNO_SIZES["basic"])
        limits.append(GraphLimit(row.process_type, memory_mb, round(cpus * 100)))
    if not limits:
        memory_mb, cpus = formation.DYNO_SIZES["basic"]
        return [GraphLimit("", memory_mb, round(cpus * 100))]
    every = GraphLimit("", max(x.memory_mb for x in limits), max(x.cpu_percent for x in limits))
    return [every, *limits]


def release_rows(*, session: Session, app: App, limit: int = 20) -> list[ReleaseRow]:
    listed = releases.list_releases(session=session, app=app, limit=limit)
    creator_ids = {r.created_by_id for r in listed if r.created_by_id}
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(creator_ids))).tuples().all())
    current = app.current_release_version
    if current is None and listed:
        current = listed[0].version
    return [
        ReleaseRow(release=r, created_by=emails.get(r.created_by_id or 0), current=r.version == current)
        for r in listed
    ]


def dyno_states(*, context: ApiContext, app: App) -> dict[str, list[DynoStatus]] | None:
    """The app's dynos as the runtime reports them (as `wharf ps` does), by process type.

    None when the runtime cannot be asked: the page still shows and changes the formation.
    """
    try:
        statuses = dynos.list_dyno_statuses(dynos.runtime_for(context.settings), app.name)
    except Exception:  # a stopped Docker daemon must not take the whole page down
        logger.warning("could not list the dynos of %s", app.name, exc_info=True)
        return None
    grouped: dict[str, list[DynoStatus]] = {}
    for status in statuses:
        if not status.oneoff:
            grouped.setdefault(status.type, []).append(status)
    return grouped


def app_page_context(
    *, session: Session, context: ApiContext, app: App, reveal_config: bool
) -> dict[str, Any]:
    config = releases.current_config(session=session, cipher=context.cipher, app=app)
    processes = process_rows(session=session, app=app)
    return {
        "app": app,
        "web_url": context.settings.app_web_url(app.name),
        "processes": processes,
        "graph_limits": graph_limits(processes),
        "sizes": list(formation.DYNO_SIZES),
        "max_quantity": formation.MAX_QUANTITY,
        "releases": release_rows(session=session, app=app),
        "config_keys": sorted(config),
        "config": config if reveal_config else None,
        "builds": builds.list_builds(session=session, app=app, limit=20),
        "test_runs": test_records.list_test_runs(session=session, app=app, limit=20),
        "default_hostname": domains.default_hostname(app, context.settings),
        "domains": domains.list_domains(session=session, app=app),
        "dyno_states": dyno_states(context=context, app=app),
        "rollback_enabled": True,
        "addons_enabled": True,
        "addons": list_addons(session=session, app=app),
        "addon_kinds": list(KINDS.values()),
        "alerts": [
            (alert, alerts.target_of(alert)) for alert in alerts.list_alerts(session=session, app=app)
        ],
        "autoscaling": autoscale.list_autoscaling(session=session, app=app),
    }
