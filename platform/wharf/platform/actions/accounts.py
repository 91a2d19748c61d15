"""Sign-up with an invite, login, and API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wharf.platform.actions import twofactor
from wharf.platform.actions.invites import claim_invite
from wharf.platform.db import utcnow
from wharf.platform.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from wharf.platform.models import ApiToken, InviteRedemption, User
from wharf.platform.security.passwords import hash_password, password_problem, verify_password
from wharf.platform.security.ratelimit import FailureLimiter, Limit, RateLimited
from wharf.platform.security.tokens import digest, new_api_token
from wharf.platform.settings import Settings

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


MIN_TOKEN_LIFETIME = timedelta(seconds=1)
MAX_TOKEN_LIFETIME = timedelta(days=3650)


class TokenExpired(Unauthorized):
    """The token exists but its lifetime is over."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if len(cleaned) > 254 or not _EMAIL.fullmatch(cleaned):
        raise BadRequest(
            f"'{email}' is not an email address. Give one like alice@example.com.", error_id="bad_email"
        )
    return cleaned


def find_user_by_email(*, session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def signup(*, session: Session, invite_code: str, email: str, password: str) -> tuple[User, IssuedToken]:
    """Create an account from an invite. The invite use and the account commit together or not at all."""
    email = normalize_email(email)
    problem = password_problem(password)
    if problem:
        raise BadRequest(problem, error_id="weak_password")
    # The invite first: a wrong code costs no password hashing (argon2 is slow on purpose).
    invite = claim_invite(session=session, code=invite_code)
    password_hash = hash_password(password)
    if find_user_by_email(session=session, email=email) is not None:
        raise Conflict(
            f"An account for {email} exists already. Log in with `wharf login`.", error_id="email_taken"
        )
    user = User(email=email, password_hash=password_hash, is_admin=invite.grants_admin)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"An account for {email} exists already. Log in with `wharf login`.", error_id="email_taken"
        ) from exc
    session.add(InviteRedemption(invite_id=invite.id, user_id=user.id))
    return user, issue_token(session=session, user=user, description="wharf signup")


def authenticate(*, session: Session, email: str, password: str) -> User:
    user = find_user_by_email(session=session, email=email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("Wrong email or password.", error_id="invalid_credentials")
    return user


def issue_token(
    *, session: Session, user: User, description: str, expires_in: timedelta | None = None
) -> IssuedToken:
    """A new token; with ``expires_in`` it stops working that long from now."""
    if expires_in is not None and not MIN_TOKEN_LIFETIME <= expires_in <= MAX_TOKEN_LIFETIME:
        raise BadRequest(
            "A token's lifetime must be between one second and ten years, like --expires 30d.",
            error_id="invalid_expiry",
        )
    secret = new_api_token()
    token = ApiToken(
        user_id=user.id,
        token_hash=digest(secret),
        prefix=secret[:10],
        description=description[:200],
        expires_at=utcnow() + expires_in if expires_in is not None else None,
    )
    session.add(token)
    session.flush()
    return IssuedToken(token=token, secret=secret)


def user_for_token(*, session: Session, secret: str) -> tuple[User, ApiToken] | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if token is None:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenExpired(
            f"This token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC. Run `wharf login` again, "
            "or create a new one with `wharf auth:token --expires DURATION`.",
            error_id="token_expired",
        )
    # Written at most once a minute, so that reads do not all become writes.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return token.user, token


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def revoke_token(*, session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(f"No token with id {token_id}. List yours with `wharf auth:tokens`.")
    session.delete(token)


def session_lifetime(settings: Settings) -> timedelta:
    """How long a dashboard login lasts, from when it was made."""
    return timedelta(days=settings.wharf_session_days)


def count_users(*, session: Session) -> int:
    return len(session.scalars(select(User.id).limit(1)).all())


def check_limits(limiter: FailureLimiter, *limits: Limit) -> None:
    """Refuse a caller who failed too often, before any password is checked."""
    try:
        limiter.check(*limits)
    except RateLimited as exc:
        raise TooManyRequests(
            f"Too many failed attempts. Try again in {exc.retry_after} seconds.", retry_after=exc.retry_after
        ) from exc


def login_limits(settings: Settings, client_address: str, email: str) -> tuple[Limit, Limit]:
    """Failures per client address, and per (client address, account) pair.

    Keyed by the pair, a stranger who fails ten times against an account locks out only
    themselves: its owner, on an address that has not failed, still logs in.
    """
    account = email.strip().lower()
    return (
        Limit("login-client", client_address, settings.wharf_auth_max_failures_per_client),
        Limit("login-pair", f"{client_address}\x00{account}", settings.wharf_auth_max_failures_per_account),
    )


def log_in(
    *,
    session: Session,
    limiter: FailureLimiter,
    settings: Settings,
    client_address: str,
    email: str,
    password: str,
    issued_for: str,
    expires_in: timedelta | None = None,
    otp: str | None = None,
) -> tuple[User, IssuedToken]:
    """Check the password under both failure limits (per client, per account), then issue a token.

    With two-factor on, a current TOTP code or an unused recovery code is needed as well.
    """
    limits = login_limits(settings, client_address, email)
    check_limits(limiter, *limits)
    try:
        user = authenticate(session=session, email=email, password=password)
    except Unauthorized:
        limiter.record_failure(*limits)
        raise
    if twofactor.confirmed_factor(session=session, user=user) is not None:
        if not otp:
            raise Unauthorized(
                "This account uses two-factor authentication: give the code from your authenticator app "
                "(or a recovery code).",
                error_id="otp_required",
            )
        box = twofactor.secret_box(settings.secret_key())
        if not twofactor.verify_second_factor(session=session, box=box, user=user, code=otp):
            limiter.record_failure(*limits)
            raise Unauthorized("That two-factor code does not match.", error_id="otp_invalid")
    return user, issue_token(session=session, user=user, description=issued_for, expires_in=expires_in)


def sign_up(
    *,
    session: Session,
    limiter: FailureLimiter,
    settings: Settings,
    client_address: str,
    invite_code: str,
    email: str,
    password: str,
) -> tuple[User, IssuedToken]:
    """Redeem an invite; guessing codes counts against the caller's failure limit."""
    limit = Limit("invite-client", client_address, settings.wharf_auth_max_failures_per_client)
    check_limits(limiter, limit)
    try:
        return signup(session=session, invite_code=invite_code, email=email, password=password)
    except NotFound:
        limiter.record_failure(limit)
        raise
