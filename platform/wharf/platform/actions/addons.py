"""Add-ons as a user creates and destroys them: the one path for `wharf addons:*` and the dashboard.

Creating records the add-on and commits at once; starting its container and attaching it take
longer, so the caller runs the returned work after answering (an HTTP background task).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from sqlalchemy.orm import Session

from wharf.platform.addons import AddonProviders
from wharf.platform.addons.base import AddonError, UnsupportedOperation
from wharf.platform.addons.lifecycle import (
    create_addon,
    destroy_addon,
    finish_provisioning,
    get_addon,
    list_addons,
)
from wharf.platform.errors import BadRequest, QuotaExceeded, WharfError
from wharf.platform.models import Addon, App, User
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Quotas, Settings, get_settings

Provisioning = Callable[[], bool]


class AddonUnavailable(WharfError):
    status_code = 503
    error_id = "addon_unavailable"


@contextmanager
def provider_errors() -> Iterator[None]:
    """A provider's failure, in the platform's error shape."""
    try:
        yield
    except UnsupportedOperation as error:
        raise BadRequest(str(error), error_id="unsupported") from error
    except AddonError as error:
        raise AddonUnavailable(str(error)) from error


def add_addon(
    *,
    session: Session,
    cipher: ConfigCipher,
    providers: AddonProviders,
    database_url: str,
    app: App,
    actor: User,
    kind: str,
    as_name: str | None = None,
    quotas: Quotas | None = None,
) -> tuple[Addon, Provisioning]:
    """Record and commit the add-on; the returned work starts and attaches it.

    QUOTAS defaults to the operator's settings.
    """
    limit = (quotas or get_settings().quotas).addons_per_app
    attached = len(list_addons(session=session, app=app))
    if attached >= limit:
        raise QuotaExceeded(
            f"{app.name} has {attached} add-ons, the limit per app on this host "
            f"(WHARF_MAX_ADDONS_PER_APP={limit}). Remove one with `wharf addons:destroy NAME -a {app.name}`, "
            "or ask the operator to raise WHARF_MAX_ADDONS_PER_APP.",
            error_id="addon_quota_exceeded",
        )
    addon = create_addon(
        session=session,
        cipher=cipher,
        providers=providers,
        app=app,
        actor=actor,
        kind=kind,
        as_name=as_name,
    )
    session.commit()
    provisioning = partial(
        finish_provisioning,
        database_url=database_url,
        cipher=cipher,
        providers=providers,
        addon_id=addon.id,
    )
    return addon, provisioning


def remove_addon(
    *,
    session: Session,
    cipher: ConfigCipher,
    providers: AddonProviders,
    settings: Settings,
    app: App,
    actor: User,
    addon_name: str,
    confirm: str | None,
) -> None:
    """Detach the add-on (a new release), then remove its container, volume and backups."""
    addon = get_addon(session=session, app=app, name=addon_name)
    with provider_errors():
        destroy_addon(
            session=session,
            cipher=cipher,
            providers=providers,
            app=app,
            actor=actor,
            addon=addon,
            confirm=confirm,
            backups_root=settings.backups_dir,
        )
    session.commit()
