"""The beta waitlist: people leave an email, confirm it by a link, and the operator invites them."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wharf.platform.actions.accounts import check_limits, find_user_by_email, normalize_email
from wharf.platform.actions.invites import create_invite
from wharf.platform.db import utcnow
from wharf.platform.errors import BadRequest, Gone
from wharf.platform.mail import messages
from wharf.platform.mail.outbox import MailRefused, queue_email
from wharf.platform.models import WaitlistEntry
from wharf.platform.security.ratelimit import FailureLimiter, Limit
from wharf.platform.security.tokens import digest
from wharf.platform.settings import Settings

log = logging.getLogger(__name__)

MAX_BATCH = 500
JOINED = "Thanks. If that address can join, a confirmation link is on its way: open it to keep your place."


def email_request_limit(settings: Settings, scope: str, client_address: str) -> Limit:
    return Limit(scope, client_address, settings.wharf_email_requests_per_client)


def join_waitlist(
    *, session: Session, limiter: FailureLimiter, settings: Settings, client_address: str, email: str
) -> str:
    """Put an email on the waitlist and mail a confirmation link.

    The answer is the same whether the address is new, waiting, approved or already has an account,
    so that the form cannot tell anyone who is known.
    """
    limit = email_request_limit(settings, "waitlist-client", client_address)
    check_limits(limiter, limit)
    limiter.record_failure(limit)  # every request counts: the form sends mail
    address = normalize_email(email)
    if find_user_by_email(session=session, email=address) is not None:
        return JOINED
    entry = session.scalar(select(WaitlistEntry).where(WaitlistEntry.email == address))
    if entry is None:
        entry = WaitlistEntry(email=address)
        session.add(entry)
    elif entry.confirmed_at is not None:
        return JOINED
    token = secrets.token_urlsafe(32)
    entry.confirm_hash = digest(token)
    session.flush()
    link = f"{settings.public_url}/beta/confirm?token={quote(token)}"
    mail = messages.waitlist_confirmation(link)
    try:
        queue_email(
            session=session,
            settings=settings,
            to=address,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            kind="waitlist-confirm",
        )
    except MailRefused as exc:
        log.info("waitlist confirmation not queued: %s", exc)
    return JOINED


def confirm_waitlist(*, session: Session, token: str) -> WaitlistEntry:
    """Use a confirmation link, once."""
    if not token or len(token) > 128:
        raise Gone("That confirmation link is not valid. Join the waitlist again.", error_id="link_invalid")
    result = session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.confirm_hash == digest(token))
        .values(confirm_hash=None, confirmed_at=utcnow())
        .returning(WaitlistEntry.id)
    )
    entry_id = result.scalar_one_or_none()
    if entry_id is None:
        raise Gone(
            "That confirmation link was used already or is not valid. Join the waitlist again if needed.",
            error_id="link_invalid",
        )
    entry = session.get(WaitlistEntry, entry_id)
    assert entry is not None
    return entry


def list_waitlist(*, session: Session) -> list[WaitlistEntry]:
    return list(session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.id)))


@dataclass(frozen=True)
class Approval:
    email: str
    invite_id: int


def approve(
    *, session: Session, settings: Settings, emails: list[str] | None = None, next_count: int | None = None
) -> list[Approval]:
    """Invite confirmed, not yet approved entries: those named, or the next N in order of joining.

    Each gets an invite and an email with its redeem link.
    """
    if (emails is None) == (next_count is None):
        raise BadRequest("Name the emails to approve, or pass --next N (not both).")
    if next_count is not None:
        if not 1 <= next_count <= MAX_BATCH:
            raise BadRequest(f"--next takes a number from 1 to {MAX_BATCH}.")
        entries = list(
            session.scalars(
                select(WaitlistEntry)
                .where(WaitlistEntry.confirmed_at.is_not(None), WaitlistEntry.approved_at.is_(None))
                .order_by(WaitlistEntry.id)
                .limit(next_count)
            )
        )
    else:
        assert emails is not None
        if len(emails) > MAX_BATCH:
            raise BadRequest(f"Approve at most {MAX_BATCH} emails at once.")
        entries = []
        for given in emails:
            address = normalize_email(given)
            entry = session.scalar(select(WaitlistEntry).where(WaitlistEntry.email == address))
            if entry is None:
                raise BadRequest(f"{address} is not on the waitlist. See it with `wharfd waitlist`.")
            if entry.confirmed_at is None:
                raise BadRequest(f"{address} has not confirmed their email yet; approve them once they have.")
            if entry.approved_at is not None:
                raise BadRequest(f"{address} was approved already.")
            entries.append(entry)
    approvals = []
    for entry in entries:
        made = create_invite(
            session=session,
            created_by=None,
            expires_in_days=settings.wharf_waitlist_invite_days,
            note=f"waitlist: {entry.email}"[:200],
        )
        entry.approved_at = utcnow()
        entry.invite_id = made.invite.id
        send_invite_email(session=session, settings=settings, to=entry.email, code=made.code, inviter=None)
        approvals.append(Approval(email=entry.email, invite_id=made.invite.id))
    return approvals


def send_invite_email(
    *, session: Session, settings: Settings, to: str, code: str, inviter: str | None
) -> None:
    """Queue an invite email with its redeem link; MailRefused when a mail cap is reached."""
    link = f"{settings.public_url}/signup?invite={quote(code)}"
    mail = messages.invite(link, code, inviter)
    queue_email(
        session=session,
        settings=settings,
        to=to,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        kind="invite",
    )
