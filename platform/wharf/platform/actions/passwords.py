"""Password change, and password reset by an emailed single-use link that expires."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from wharf.platform.actions.accounts import check_limits, find_user_by_email, normalize_email
from wharf.platform.actions.waitlist import email_request_limit
from wharf.platform.db import utcnow
from wharf.platform.errors import BadRequest, Gone, Unauthorized
from wharf.platform.mail import messages
from wharf.platform.mail.outbox import MailRefused, queue_email
from wharf.platform.models import AccountLink, ApiToken, User
from wharf.platform.security.passwords import hash_password, password_problem, verify_password
from wharf.platform.security.ratelimit import FailureLimiter, Limit
from wharf.platform.security.tokens import digest
from wharf.platform.settings import Settings

log = logging.getLogger(__name__)

RESET = "password-reset"
RESET_REQUESTED = "If an account uses that address, a link to reset its password is on its way."


def revoke_tokens(*, session: Session, user: User, keep_id: int | None = None) -> None:
    """End every session and token of the user, but the one kept."""
    query = delete(ApiToken).where(ApiToken.user_id == user.id)
    if keep_id is not None:
        query = query.where(ApiToken.id != keep_id)
    session.execute(query)
    session.expire(user, ["tokens"])


def _new_password_hash(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise BadRequest(problem, error_id="weak_password")
    return hash_password(password)


def change_password(
    *,
    session: Session,
    limiter: FailureLimiter,
    settings: Settings,
    user: User,
    current_token_id: int,
    current_password: str,
    new_password: str,
) -> None:
    """Needs the current password; every other session and token of the user stops working."""
    limit = Limit("password-change", str(user.id), settings.wharf_auth_max_failures_per_account)
    check_limits(limiter, limit)
    if not verify_password(user.password_hash, current_password):
        limiter.record_failure(limit)
        raise Unauthorized("The current password is wrong.", error_id="invalid_credentials")
    user.password_hash = _new_password_hash(new_password)
    revoke_tokens(session=session, user=user, keep_id=current_token_id)


def request_reset(
    *, session: Session, limiter: FailureLimiter, settings: Settings, client_address: str, email: str
) -> str:
    """Mail a reset link when an account has the address; the answer is the same when none has."""
    address = normalize_email(email)
    limits = (
        email_request_limit(settings, "reset-client", client_address),
        Limit("reset-account", address, settings.wharf_email_requests_per_client),
    )
    check_limits(limiter, *limits)
    limiter.record_failure(*limits)
    user = find_user_by_email(session=session, email=address)
    if user is None:
        return RESET_REQUESTED
    token = secrets.token_urlsafe(32)
    minutes = settings.wharf_password_reset_minutes
    session.add(
        AccountLink(
            user_id=user.id,
            purpose=RESET,
            token_hash=digest(token),
            expires_at=utcnow() + timedelta(minutes=minutes),
        )
    )
    session.flush()
    mail = messages.password_reset(f"{settings.public_url}/reset-password?token={quote(token)}", minutes)
    try:
        queue_email(
            session=session,
            settings=settings,
            to=user.email,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            kind=RESET,
        )
    except MailRefused as exc:
        log.info("password reset not queued: %s", exc)
    return RESET_REQUESTED


def reset_password(*, session: Session, token: str, new_password: str) -> User:
    """Use a reset link once, before it expires; every session and token of the account ends."""
    password_hash = _new_password_hash(new_password)
    gone = Gone(
        "This reset link was used already, has expired or is not valid. Ask for a new one.",
        error_id="link_invalid",
    )
    if not token or len(token) > 128:
        raise gone
    now = utcnow()
    result = session.execute(
        update(AccountLink)
        .where(
            AccountLink.token_hash == digest(token),
            AccountLink.purpose == RESET,
            AccountLink.used_at.is_(None),
            AccountLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountLink.user_id)
    )
    user_id = result.scalar_one_or_none()
    if user_id is None:
        raise gone
    user = session.get(User, user_id)
    assert user is not None
    user.password_hash = password_hash
    revoke_tokens(session=session, user=user)
    # Other links for the account stop working too.
    session.execute(
        update(AccountLink)
        .where(AccountLink.user_id == user.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
    )
    return user
