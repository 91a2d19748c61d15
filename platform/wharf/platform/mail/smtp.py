"""Send one message over SMTP, with a plain-text body and an optional HTML alternative."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from wharf.platform.settings import Settings


class MailNotConfigured(RuntimeError):
    """No SMTP server is set; the message names the setting."""


def build_message(*, sender: str, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send_email(settings: Settings, *, to: str, subject: str, text: str, html: str | None = None) -> None:
    """Deliver now; raises OSError/smtplib.SMTPException when the server refuses or is down."""
    if not settings.wharf_smtp_host:
        raise MailNotConfigured("no SMTP server is set: set WHARF_SMTP_HOST (and WHARF_SMTP_PORT)")
    message = build_message(sender=settings.wharf_smtp_from, to=to, subject=subject, text=text, html=html)
    with smtplib.SMTP(settings.wharf_smtp_host, settings.wharf_smtp_port, timeout=30) as client:
        if settings.wharf_smtp_starttls:
            client.starttls(context=ssl.create_default_context())
        if settings.wharf_smtp_user:
            client.login(settings.wharf_smtp_user, settings.wharf_smtp_password or "")
        client.send_message(message)
