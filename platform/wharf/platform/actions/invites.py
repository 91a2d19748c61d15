"""Beta invites: creation by the operator or by users within their quota, and atomic redemption."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest, Forbidden, Gone, NotFound
from wharf.platform.models import Invite, User
from wharf.platform.security.tokens import invite_digest, new_invite_code, normalize_invite_code


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    code: str


def create_invite(
    *,
    session: Session,
    created_by: User | None,
    max_uses: int = 1,
    expires_in_days: float | None = None,
    note: str = "",
    grants_admin: bool = False,
) -> NewInvite:
    if max_uses < 1:
        raise BadRequest("An invite needs at least one use: pass --uses 1 or more.")
    if expires_in_days is not None and expires_in_days <= 0:
        raise BadRequest(
            "An invite's expiry must be in the future: pass --expires with a positive number of days."
        )
    code = new_invite_code()
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    invite = Invite(
        code_hash=invite_digest(code),
        hint=code[-4:],
        created_by_id=created_by.id if created_by else None,
        grants_admin=grants_admin,
        max_uses=max_uses,
        expires_at=expires_at,
        note=note[:200],
    )
    session.add(invite)
    session.flush()
    return NewInvite(invite=invite, code=code)


def remaining_quota(*, session: Session, user: User, default_quota: int) -> int | None:
    """Invites the user may still hand out; None means unlimited (admins)."""
    if user.is_admin:
        return None
    quota = user.invite_quota if user.invite_quota is not None else default_quota
    made = (
        session.scalar(select(func.count()).select_from(Invite).where(Invite.created_by_id == user.id)) or 0
    )
    return max(quota - made, 0)


def create_user_invite(*, session: Session, user: User, default_quota: int, note: str = "") -> NewInvite:
    remaining = remaining_quota(session=session, user=user, default_quota=default_quota)
    if remaining == 0:
        raise Forbidden(
            "You have handed out all the invites you may. Ask the operator of this Wharf for more.",
            error_id="invite_quota_spent",
        )
    return create_invite(session=session, created_by=user, note=note)


def list_user_invites(*, session: Session, user: User) -> list[Invite]:
    query = select(Invite).where(Invite.created_by_id == user.id).order_by(Invite.id.desc())
    return list(session.scalars(query))


def claim_invite(*, session: Session, code: str) -> Invite:
    """Take one use of an invite, atomically: concurrent claims of a last use cannot both succeed.

    The conditional UPDATE is the only arbiter; a stale read cannot hand out a use twice.
    """
    if len(normalize_invite_code(code)) > 64:
        raise NotFound("That invite code is not valid. Check it for typos.", error_id="invite_invalid")
    code_hash = invite_digest(code)
    now = datetime.now(UTC)
    result = session.execute(
        update(Invite)
        .where(
            Invite.code_hash == code_hash,
            Invite.uses < Invite.max_uses,
            or_(Invite.expires_at.is_(None), Invite.expires_at > now),
        )
        .values(uses=Invite.uses + 1)
        .returning(Invite.id)
    )
    claimed_id = result.scalar_one_or_none()
    if claimed_id is not None:
        invite = session.get(Invite, claimed_id)
        assert invite is not None
        return invite
    invite = session.scalar(select(Invite).where(Invite.code_hash == code_hash))
    if invite is None:
        raise NotFound("That invite code is not valid. Check it for typos.", error_id="invite_invalid")
    if invite.uses >= invite.max_uses:
        raise Gone(
            "That invite code has already been used. Ask whoever invited you for a new one.",
            error_id="invite_used",
        )
    raise Gone(
        "That invite code has expired. Ask whoever invited you for a new one.", error_id="invite_expired"
    )
