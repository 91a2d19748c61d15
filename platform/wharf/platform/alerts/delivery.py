"""Delivering an alert's news: a signed JSON POST to a webhook (retried with backoff) or an email.

A webhook URL is the user's, so it follows the log drains' address policy: no loopback, private or
link-local targets unless the operator allows them (WHARF_LOG_DRAIN_ALLOW_PRIVATE), and the
connection goes to the address that was checked (no second DNS answer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from wharf.platform.logs.drain_transport import DrainUnavailable, check_address, pinned_url
from wharf.platform.mail.smtp import MailNotConfigured, send_email
from wharf.platform.settings import Settings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "Wharf-Signature"
FIRST_RETRY_SECONDS = 1.0
# Notifications waiting for delivery; more are dropped (and logged), so a dead receiver costs bounded memory.
QUEUE_LIMIT = 1000
SENDERS = 4


@dataclass(frozen=True)
class Notification:
    alert_id: int
    app: str
    kind: str
    state: str  # firing | resolved
    detail: str
    time: str
    threshold: float | None
    for_minutes: int
    webhook_url: str | None
    email: str | None
    secret: str

    def body(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "app": self.app,
            "kind": self.kind,
            "state": self.state,
            "detail": self.detail,
            "threshold": self.threshold,
            "for_minutes": self.for_minutes,
            "time": self.time,
        }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeliveryFailed(Exception):
    pass


def post_webhook(notification: Notification, *, allow_private: bool, client: httpx.Client) -> None:
    """One attempt; DeliveryFailed unless the receiver answered 2xx."""
    url = str(notification.webhook_url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address, _ = check_address(host, port, allow_private=allow_private)[0]
    except DrainUnavailable as error:
        raise DeliveryFailed(str(error).replace("drains", "webhooks")) from error
    body = json.dumps(notification.body(), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Wharf-Alerts",
        SIGNATURE_HEADER: signature(notification.secret, body),
        "Host": parts.netloc.rpartition("@")[2],
    }
    try:
        response = client.post(
            pinned_url(url, address), content=body, headers=headers, extensions={"sni_hostname": host}
        )
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{host}: {error}") from error
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"{host} answered {response.status_code}")


def email_text(notification: Notification) -> tuple[str, str]:
    word = "FIRING" if notification.state == "firing" else "resolved"
    subject = f"[Wharf] {notification.app}: {notification.kind} alert {word}"
    text = (
        f"Alert {notification.alert_id} ({notification.kind}) on {notification.app} "
        f"is {notification.state}.\n\n"
        f"{notification.detail}\n\nAt {notification.time}. See `wharf alerts -a {notification.app}`.\n"
    )
    return subject, text


class Deliverer:
    """Sends notifications from its own thread, retrying each with exponential backoff."""

    def __init__(
        self,
        settings: Settings,
        *,
        attempts: int | None = None,
        first_retry: float = FIRST_RETRY_SECONDS,
        on_result: Callable[[Notification, str | None], None] | None = None,
    ) -> None:
        self.settings = settings
        self.attempts = attempts if attempts is not None else settings.wharf_alert_webhook_attempts
        self.first_retry = first_retry
        self.on_result = on_result
        self._queue: queue.Queue[Notification] = queue.Queue(QUEUE_LIMIT)
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=10.0, follow_redirects=False)
        # A few senders, so one receiver that is down (and retried) does not hold up every other alert.
        self._threads = [
            threading.Thread(target=self._run, name=f"alert-delivery-{n}", daemon=True)
            for n in range(SENDERS)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, notification: Notification) -> None:
        try:
            self._queue.put_nowait(notification)
        except queue.Full:
            log.warning("alert delivery queue full: dropped %s of %s", notification.state, notification.app)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                notification = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            error = self.deliver(notification)
            if self.on_result is not None:
                self.on_result(notification, error)

    def deliver(self, notification: Notification) -> str | None:
        """Try up to `attempts` times, waiting 1 s, 2 s, 4 s ... between; the last error, or None."""
        error: str | None = None
        for attempt in range(self.attempts):
            try:
                self._send(notification)
                return None
            except MailNotConfigured as exc:
                log.warning("alert %d of %s not emailed: %s", notification.alert_id, notification.app, exc)
                return str(exc)
            except (DeliveryFailed, OSError, smtplib.SMTPException) as exc:
                error = str(exc)
                log.warning(
                    "alert %d to %s failed (attempt %d): %s",
                    notification.alert_id,
                    notification.app,
                    attempt + 1,
                    error,
                )
            if self._stop.wait(self.first_retry * 2**attempt):
                break
        return error

    def _send(self, notification: Notification) -> None:
        if notification.webhook_url is not None:
            post_webhook(
                notification, allow_private=self.settings.wharf_log_drain_allow_private, client=self._client
            )
        elif notification.email is not None:
            subject, text = email_text(notification)
            send_email(self.settings, to=notification.email, subject=subject, text=text)
