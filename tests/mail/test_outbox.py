"""The outbox: queued mail reaches a real SMTP server, is retried with backoff while it fails, is capped."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import free_port
from tests.utils.smtp import smtp_server
from wharf.platform.db import session_scope, utcnow
from wharf.platform.mail.outbox import MailRefused, deliver_due, prune, queue_email, retry_wait
from wharf.platform.models import OutboxMessage
from wharf.platform.settings import Settings


def _settings(database_url: str, port: int, **extra: object) -> Settings:
    return Settings(
        database_url=database_url,
        wharf_env="test",
        wharf_smtp_host="127.0.0.1",
        wharf_smtp_port=port,
        **extra,  # type: ignore[arg-type]
    )


def _queue(settings: Settings, to: str) -> int:
    with session_scope(settings.resolved_database_url) as session:
        return queue_email(
            session=session, settings=settings, to=to, subject="Hi", text="plain", html="<p>html</p>"
        ).id


def test_a_failed_message_is_retried_with_backoff_then_delivered(database_url: str) -> None:
    to = f"retry-{secrets.token_hex(4)}@example.com"
    down = _settings(database_url, free_port(), wharf_mail_retry_seconds=30)
    message_id = _queue(down, to)
    assert deliver_due(down) == 0
    with session_scope(database_url) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        assert message.status == "queued" and message.attempts == 1 and message.last_error
        assert message.next_attempt_at > utcnow() + timedelta(seconds=20)

    with smtp_server() as mailbox:
        up = _settings(database_url, mailbox.port)
        assert deliver_due(up) == 0  # not due yet: the backoff holds
        with session_scope(database_url) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        assert deliver_due(up) >= 1
        [received] = mailbox.wait_for(to)
        assert mailbox.text_of(received).strip() == "plain"
        html = received.get_body(preferencelist=("html",))
        assert html is not None and "<p>html</p>" in html.get_content()
    with session_scope(database_url) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None and message.status == "sent" and message.attempts == 2
        # The body (which may hold a single-use link) is not kept once delivered.
        assert message.text_body == "" and message.html_body is None


def test_retry_waits_double_and_a_message_gives_up_after_its_attempts(database_url: str) -> None:
    settings = _settings(database_url, free_port(), wharf_mail_retry_seconds=10, wharf_mail_max_attempts=2)
    assert [retry_wait(settings, n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert retry_wait(settings, 40) == timedelta(hours=6)
    message_id = _queue(settings, f"never-{secrets.token_hex(4)}@example.com")
    for _ in range(2):
        with session_scope(database_url) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        deliver_due(settings)
    with session_scope(database_url) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None and message.status == "failed" and message.attempts == 2


def test_mail_to_one_recipient_is_capped_per_hour(database_url: str) -> None:
    settings = _settings(database_url, free_port(), wharf_mail_per_recipient_per_hour=3)
    to = f"capped-{secrets.token_hex(4)}@example.com"
    for _ in range(3):
        _queue(settings, to)
    with pytest.raises(MailRefused, match="enough email this hour"):
        _queue(settings, to)
    _queue(settings, f"other-{secrets.token_hex(4)}@example.com")


def test_the_whole_queue_is_capped(database_url: str) -> None:
    with session_scope(database_url) as session:
        waiting = session.scalar(select(func.count()).where(OutboxMessage.status == "queued")) or 0
    settings = _settings(database_url, free_port(), wharf_mail_queue_limit=waiting + 2)
    _queue(settings, f"a-{secrets.token_hex(4)}@example.com")
    _queue(settings, f"b-{secrets.token_hex(4)}@example.com")
    with pytest.raises(MailRefused, match="queue is full"):
        _queue(settings, f"c-{secrets.token_hex(4)}@example.com")


def test_old_delivered_messages_are_pruned_and_waiting_ones_kept(database_url: str) -> None:
    settings = _settings(database_url, free_port())
    old_sent = _queue(settings, f"old-{secrets.token_hex(4)}@example.com")
    old_waiting = _queue(settings, f"waiting-{secrets.token_hex(4)}@example.com")
    with session_scope(database_url) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([old_sent, old_waiting]))
            .values(created_at=utcnow() - timedelta(days=8))
        )
        session.execute(update(OutboxMessage).where(OutboxMessage.id == old_sent).values(status="sent"))
    assert prune(settings) >= 1
    with session_scope(database_url) as session:
        assert session.get(OutboxMessage, old_sent) is None
        assert session.get(OutboxMessage, old_waiting) is not None
