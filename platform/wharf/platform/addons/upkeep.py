"""Add-on upkeep: keeps every add-on running and healthy, renews its TLS certificate, and takes
scheduled backups.

Docker's `unless-stopped` policy brings a crashed server back by itself; this loop covers the
rest: a container that was stopped or removed is started or recreated on its volume (on a new, empty one,
said as such, when the volume went with its host), a server that
fails its health check is restarted, an add-on whose provisioning was interrupted is finished, and a
certificate with less than a third of its life left is replaced in the running server (no restart).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from wharf.platform.addons import AddonProviders, get_addon_providers
from wharf.platform.addons.backups import (
    capture_backup,
    prune_scheduled_backups,
    scheduled_backup_due,
)
from wharf.platform.addons.base import AddonHealth, AddonSpec, AddonState, CertificateRenewer
from wharf.platform.addons.lifecycle import addon_spec, finish_provisioning
from wharf.platform.db import session_scope
from wharf.platform.logs.events import record_event
from wharf.platform.models import Addon
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings

DEFAULT_INTERVAL = 15.0
Say = Callable[[str], None]


@dataclass(frozen=True)
class UpkeepContext:
    database_url: str
    cipher: ConfigCipher
    providers: AddonProviders
    backups_dir: Path


def _available(context: UpkeepContext, addon_id: int) -> tuple[AddonSpec, str] | None:
    """The spec of an available add-on and its app's name; None while it is provisioning or gone."""
    with session_scope(context.database_url) as session:
        addon = session.get(Addon, addon_id)
        if addon is None or addon.status != "available":
            return None
        return addon_spec(addon, context.cipher, app_name=addon.app.name), addon.app.name


def _heal(context: UpkeepContext, addon_id: int, say: Say) -> str | None:
    """Bring one available add-on back to healthy; the action taken, if any."""
    available = _available(context, addon_id)
    if available is None:
        return None
    spec, app_name = available
    provider = context.providers.for_kind(spec.kind)
    with context.providers.exclusive(spec.name, wait=False) as mine:
        if not mine:
            return None
        health = provider.health(spec)
        if health.state in (AddonState.HEALTHY, AddonState.STARTING):
            return None
        if health.state is AddonState.UNHEALTHY:
            provider.restart(spec)
            action = f"restarted {spec.name}: {health.detail}"
        else:
            provider.provision(spec)
            action = f"started {spec.name} again ({health.detail}); " + _what_became_of_the_data(
                spec, app_name, health
            )
    say(action)
    with session_scope(context.database_url) as session:
        record_event(session=session, actor=None, action="addon-heal", app_name=app_name, message=action)
    return action


def _what_became_of_the_data(spec: AddonSpec, app_name: str, health: AddonHealth) -> str:
    """A server recreated without its volume (its host was lost) starts empty: say how to refill it."""
    if not health.data_lost:
        return "its data was kept"
    if spec.kind == "postgres":
        return (
            "its volume was gone, so it starts empty: restore a backup with "
            f"`wharf pg:backups:restore -a {app_name} --confirm {app_name}`"
        )
    return "its volume was gone, so it starts empty"


def _renew_certificate(context: UpkeepContext, addon_id: int, say: Say) -> str | None:
    """Replace the add-on's TLS certificate in the running server when it is due; what was done, if so."""
    available = _available(context, addon_id)
    if available is None:
        return None
    spec, app_name = available
    provider = context.providers.for_kind(spec.kind)
    if not isinstance(provider, CertificateRenewer):
        return None
    with context.providers.exclusive(spec.name, wait=False) as mine:
        serial = provider.renew_certificate(spec) if mine else None
    if serial is None:
        return None
    action = f"renewed the TLS certificate of {spec.name} in place (serial {serial}), without a restart"
    say(action)
    with session_scope(context.database_url) as session:
        record_event(
            session=session, actor=None, action="addon-certificate", app_name=app_name, message=action
        )
    return action


def _scheduled_backup(context: UpkeepContext, addon_id: int, now: datetime | None, say: Say) -> str | None:
    with session_scope(context.database_url) as session:
        addon = session.get(Addon, addon_id)
        if addon is None or addon.kind != "postgres":
            return None
        if not scheduled_backup_due(session=session, addon=addon, now=now):
            return None
        root = context.backups_dir
        backup = capture_backup(
            session=session,
            cipher=context.cipher,
            providers=context.providers,
            addon=addon,
            root=root,
            actor=None,
            scheduled=True,
            now=now,
        )
        pruned = prune_scheduled_backups(session=session, addon=addon, root=root)
        action = f"scheduled backup {backup.label} of {addon.name}: {backup.status}"
        if pruned:
            action += f"; removed {', '.join(pruned)} beyond retention"
    say(action)
    return action


def upkeep_addons_once(context: UpkeepContext, *, now: datetime | None = None, say: Say = print) -> list[str]:
    """One pass over every add-on; returns what it did (empty when everything was fine)."""
    with session_scope(context.database_url) as session:
        rows = [(a.id, a.status) for a in session.scalars(select(Addon).order_by(Addon.id))]
    actions: list[str] = []
    for addon_id, status in rows:
        try:
            if status == "provisioning":
                if finish_provisioning(
                    database_url=context.database_url,
                    cipher=context.cipher,
                    providers=context.providers,
                    addon_id=addon_id,
                ):
                    actions.append(f"finished provisioning add-on {addon_id}")
                continue
            steps = (
                _heal(context, addon_id, say),
                _renew_certificate(context, addon_id, say),
                _scheduled_backup(context, addon_id, now, say),
            )
            for step in steps:
                if step:
                    actions.append(step)
        except Exception as error:  # one broken add-on must not stop the others being looked after
            say(f"add-on {addon_id}: {error}")
            actions.append(f"error on add-on {addon_id}: {error}")
    return actions


def upkeep_context(settings: Settings) -> UpkeepContext:
    return UpkeepContext(
        database_url=settings.resolved_database_url,
        cipher=ConfigCipher(settings.secret_key()),
        providers=get_addon_providers(settings),
        backups_dir=settings.backups_dir,
    )


def run_addon_upkeep(
    settings: Settings,
    *,
    interval: float = DEFAULT_INTERVAL,
    stop: threading.Event | None = None,
    say: Say = print,
) -> None:
    """Look after add-ons every `interval` seconds until `stop` is set (for `wharfd scheduler`)."""
    context = upkeep_context(settings)
    stop = stop or threading.Event()
    while not stop.is_set():
        upkeep_addons_once(context, say=say)
        stop.wait(interval)
