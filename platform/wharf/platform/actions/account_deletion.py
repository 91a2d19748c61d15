"""Deleting an account: its apps are destroyed through the app destroy action, then the account goes.

It is refused while the account is the only admin of a team that holds apps: those apps would be left
with no one to run the team.
"""

from __future__ import annotations

import redis
from sqlalchemy.orm import Session

from wharf.platform.actions.accounts import check_limits
from wharf.platform.actions.apps import destroy_app, list_owned_apps
from wharf.platform.actions.teams import teams_only_user_admins
from wharf.platform.addons import AddonProviders
from wharf.platform.errors import BadRequest, Conflict, Unauthorized
from wharf.platform.models import User
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.passwords import verify_password
from wharf.platform.security.ratelimit import FailureLimiter, Limit
from wharf.platform.settings import Settings


def delete_account(
    *,
    session: Session,
    limiter: FailureLimiter,
    cipher: ConfigCipher,
    client: redis.Redis[bytes],
    settings: Settings,
    providers: AddonProviders,
    user: User,
    confirm: str,
    password: str,
) -> list[str]:
    """Destroy the user's apps and delete the account; returns the names of the apps destroyed.

    Needs the account's email as confirmation and its password.
    """
    if confirm.strip().lower() != user.email:
        raise BadRequest(
            f"Confirmation did not match {user.email}. Nothing was deleted. Pass --confirm {user.email}.",
            error_id="confirmation_mismatch",
        )
    limit = Limit("account-delete", str(user.id), settings.wharf_auth_max_failures_per_account)
    check_limits(limiter, limit)
    if not verify_password(user.password_hash, password):
        limiter.record_failure(limit)
        raise Unauthorized("The password is wrong. Nothing was deleted.", error_id="invalid_credentials")
    _refuse_if_last_team_admin(session, user)
    destroyed = []
    for app in list_owned_apps(session=session, user=user):
        name = app.name
        destroy_app(
            session=session,
            cipher=cipher,
            client=client,
            settings=settings,
            providers=providers,
            actor=user,
            app=app,
            confirm=name,
        )
        destroyed.append(name)
    session.delete(user)
    session.flush()
    return destroyed


def _refuse_if_last_team_admin(session: Session, user: User) -> None:
    teams = teams_only_user_admins(session=session, user=user)
    if not teams:
        return
    names = ", ".join(team.name for team in teams)
    first = teams[0].name
    which = f"team {names}, which holds" if len(teams) == 1 else f"teams {names}, which hold"
    raise Conflict(
        f"You are the only admin of {which} apps. Nothing was deleted. Hand the team "
        f"to another member first (`wharf members:add EMAIL -t {first} --role admin`), or move or "
        "destroy its apps (`wharf apps:destroy`), then delete the account.",
        error_id="last_team_admin",
    )
