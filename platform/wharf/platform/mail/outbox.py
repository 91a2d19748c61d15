"""The outbox: email is queued in the database and delivered by one supervised sender.

Queuing is bounded twice, so that no tenant can make the host send mail on their behalf without end:
at most WHARF_MAIL_PER_RECIPIENT_PER_HOUR messages to one address, and WHARF_MAIL_QUEUE_LIMIT waiting
in all. A message that fails is retried with doubling waits, then marked failed.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from wharf.platform.db import session_scope, utcnow
from wharf.platform.errors import TooManyRequests
from wharf.platform.mail.smtp import MailNotConfigured, send_email
from wharf.platform.models import OutboxMessage
from wharf.platform.settings import Settings

log = logging.getLogger(__name__)

BATCH = 20
MAX_WAIT = timedelta(hours=6)
KEEP = timedelta(days=7)

Sender = Callable[..., None]


class MailRefused(TooManyRequests):
    """The message was not queued: a cap is reached. The message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=3600, error_id="mail_capped")


def queue_email(
    *,
    session: Session,
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    kind: str = "",
) -> OutboxMessage:
    """Queue one message, within the per-recipient and global caps (MailRefused past them)."""
    address = to.strip().lower()
    since = utcnow() - timedelta(hours=1)
    recent = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.to_address == address, OutboxMessage.created_at > since)
    )
    if (recent or 0) >= settings.wharf_mail_per_recipient_per_hour:
        raise MailRefused(f"{address} was sent enough email this hour; try again later.")
    waiting = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "queued")
    )
    if (waiting or 0) >= settings.wharf_mail_queue_limit:
        raise MailRefused("The outgoing mail queue is full; try again later.")
    message = OutboxMessage(
        to_address=address, subject=subject[:200], text_body=text, html_body=html, kind=kind[:32]
    )
    session.add(message)
    session.flush()
    return message


def retry_wait(settings: Settings, attempts: int) -> timedelta:
    """The wait after the given number of failed attempts: doubling, at most six hours."""
    wait = timedelta(seconds=settings.wharf_mail_retry_seconds * 2 ** max(attempts - 1, 0))
    return min(wait, MAX_WAIT)


def forget_body(message: OutboxMessage) -> None:
    """Bodies carry single-use links in clear: they are kept only while the message waits."""
    message.text_body = ""
    message.html_body = None


def prune(settings: Settings) -> int:
    """Drop delivered and failed messages older than KEEP (the hourly caps look back one hour)."""
    with session_scope(settings.resolved_database_url) as session:
        result = session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status != "queued", OutboxMessage.created_at < utcnow() - KEEP
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def deliver_due(settings: Settings, *, send: Sender = send_email) -> int:
    """Send the messages that are due; returns how many went out."""
    sent = 0
    with session_scope(settings.resolved_database_url) as session:
        due = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= utcnow())
                .order_by(OutboxMessage.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for message in due:
            try:
                send(
                    settings,
                    to=message.to_address,
                    subject=message.subject,
                    text=message.text_body,
                    html=message.html_body,
                )
            except (OSError, smtplib.SMTPException, MailNotConfigured) as exc:
                message.attempts += 1
                message.last_error = str(exc)[:500]
                if message.attempts >= settings.wharf_mail_max_attempts:
                    message.status = "failed"
                    forget_body(message)
                    log.warning("giving up on message %d to %s: %s", message.id, message.to_address, exc)
                else:
                    message.next_attempt_at = utcnow() + retry_wait(settings, message.attempts)
                    log.info("message %d to %s failed, will retry: %s", message.id, message.to_address, exc)
            else:
                message.attempts += 1
                message.status = "sent"
                message.sent_at = utcnow()
                forget_body(message)
                sent += 1
            session.commit()
    return sent


def run_mail_sender(settings: Settings, *, stop: threading.Event, send: Sender = send_email) -> None:
    """The `mail` service: deliver due messages until `stop`."""
    if not settings.wharf_smtp_host:
        log.info("no SMTP server set (WHARF_SMTP_HOST): email stays queued")
    next_prune = 0.0
    while not stop.is_set():
        if settings.wharf_smtp_host:
            deliver_due(settings, send=send)
        if time.monotonic() >= next_prune:
            prune(settings)
            next_prune = time.monotonic() + 3600
        stop.wait(settings.wharf_mail_poll_seconds)
