"""Dynos: list them from the runtime, restart, stop, and start detached one-offs.

None of these deploy inside a request: they record desired state (a restart request) and wake the
scheduler, or start a one-off dyno that is not part of any formation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest, NotFound, QuotaExceeded
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, User
from wharf.platform.records.releases import get_release
from wharf.platform.runtime import Dyno, DynoNotFound, Runtime, get_runtime
from wharf.platform.scheduler.desired import ReleaseTarget
from wharf.platform.scheduler.dynos import LAUNCHER, is_oneoff, oneoff_spec, restarts_of
from wharf.platform.scheduler.notify import request_restart, wake_scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Quotas, Settings, get_settings


@functools.lru_cache(maxsize=2)
def runtime_named(name: str, installation: str | None = None) -> Runtime:
    """One runtime per process: the Docker client keeps a connection pool."""
    return get_runtime(name, installation=installation)


def runtime_for(settings: Settings) -> Runtime:
    """This installation's runtime: it lists and touches only this installation's dynos."""
    return runtime_named(settings.wharf_runtime, settings.installation_id)


@dataclass(frozen=True)
class DynoStatus:
    name: str
    type: str
    state: str
    since: datetime | None
    release: int
    command: str
    size: str
    restarts: int
    exit_code: int | None
    oneoff: bool


def dyno_status(dyno: Dyno) -> DynoStatus:
    since = dyno.started_at if dyno.running else (dyno.finished_at or dyno.started_at)
    return DynoStatus(
        name=dyno.dyno,
        type=dyno.process_type,
        state=dyno.state.value,
        since=since,
        release=dyno.release,
        command=dyno.command,
        size=dyno.size,
        restarts=restarts_of(dyno),
        exit_code=dyno.exit_code,
        oneoff=is_oneoff(dyno),
    )


def list_dyno_statuses(runtime: Runtime, app_name: str) -> list[DynoStatus]:
    """The app's dynos as the runtime reports them (labels), one per slot: the newest wins."""
    newest: dict[str, Dyno] = {}
    for dyno in runtime.list_dynos(app_name):
        seen = newest.get(dyno.dyno)
        if seen is None or (dyno.running, dyno.release) > (seen.running, seen.release):
            newest[dyno.dyno] = dyno
    ordered = sorted(newest.values(), key=lambda d: (d.process_type, d.number))
    return [dyno_status(d) for d in ordered]


def restart_dynos(
    *, session: Session, client: redis.Redis[bytes], app: App, actor: User, target: str | None
) -> None:
    """Ask the scheduler to replace the dynos, and record the restart in the app's events and log."""
    request_restart(client, app.name, target)
    record_event(
        session=session,
        actor=actor,
        action="restart",
        app_name=app.name,
        message=f"Restart of {target or 'all'} dynos requested by {actor.email}",
    )


def stop_dyno(runtime: Runtime, client: redis.Redis[bytes], app: App, name: str) -> None:
    """A one-off dyno is stopped; a formation dyno is replaced (the formation still wants it)."""
    matching = [d for d in runtime.list_dynos(app.name) if d.dyno == name and d.running]
    if not matching:
        raise NotFound(f"No running dyno {name} on {app.name}. List them with `wharf ps -a {app.name}`.")
    if all(is_oneoff(d) for d in matching):
        for dyno in matching:
            try:
                runtime.stop_dyno(dyno.id, timeout=10)
            except DynoNotFound:
                continue
        return
    request_restart(client, app.name, name)


def current_release_target(session: Session, cipher: ConfigCipher, app: App) -> ReleaseTarget:
    if app.current_release_version is None:
        raise BadRequest(
            f"{app.name} has no deployed release yet. Push code first: git push wharf main",
            error_id="no_release",
        )
    release = get_release(session=session, app=app, version=app.current_release_version)
    assert release.image is not None
    return ReleaseTarget(
        version=release.version,
        image=release.image,
        process_types=dict(release.process_types or {}),
        config=cipher.decrypt(release.config_ciphertext),
    )


def start_detached(
    runtime: Runtime,
    client: redis.Redis[bytes],
    release: ReleaseTarget,
    app: App,
    command: str,
    size: str = "basic",
    quotas: Quotas | None = None,
) -> DynoStatus:
    """`wharf run --detach`: the dyno runs in the background; its output goes to the app's logs.

    The scheduler is woken so that it follows the new dyno's output and exit at once. QUOTAS defaults
    to the operator's settings.
    """
    limit = (quotas or get_settings().quotas).detached_dynos_per_app
    running = [
        d for d in runtime.list_dynos(app.name) if is_oneoff(d) and d.running and d.process_type == "run"
    ]
    if len(running) >= limit:
        raise QuotaExceeded(
            f"{app.name} already has {len(running)} one-off dynos running, the limit per app on this host "
            f"(WHARF_MAX_DETACHED_DYNOS_PER_APP={limit}). Stop one with `wharf ps:stop DYNO -a {app.name}` "
            "or wait for one to finish.",
            error_id="oneoff_quota_exceeded",
        )
    runtime.ensure_network(app.name)
    dyno = runtime.start_dyno(oneoff_spec(app.name, release, command, size=size, launcher=LAUNCHER))
    wake_scheduler(client, app.name)
    return dyno_status(dyno)
