"""Alerts of an app: add (the webhook secret is shown once), list, remove."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.actions.accounts import normalize_email
from wharf.platform.errors import BadRequest, Conflict, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import Alert, App, User
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.names import refuse_unsafe_characters

# Kind -> (default threshold, its unit, default minutes the condition must hold).
KINDS: dict[str, tuple[float | None, str, int]] = {
    "crash": (3, "restarts in a row", 1),
    "p95": (1000, "ms", 5),
    "errors": (5, "% of requests answered 5xx", 5),
    "memory": (90, "% of the dyno size's memory", 5),
    "deploy": (None, "", 1),
}
MAX_MINUTES = 24 * 60


@dataclass(frozen=True)
class AlertRequest:
    kind: str
    webhook: str | None = None
    email: str | None = None
    threshold: float | None = None
    for_minutes: int | None = None
    repeat_minutes: int = 60


def webhook_secret(*, cipher: ConfigCipher, alert: Alert) -> str:
    return cipher.decrypt(alert.secret_ciphertext)["secret"]


def check_webhook_url(url: str) -> str:
    url = url.strip()
    refuse_unsafe_characters(url, "webhook URL")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or " " in url:
        raise BadRequest(
            f"{url} is not a webhook URL. Give one like https://hooks.example.com/wharf.",
            error_id="invalid_webhook",
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise BadRequest(f"{url} has an invalid port.", error_id="invalid_webhook") from exc
    return url


def _check(request: AlertRequest) -> tuple[str | None, str | None, float | None, int]:
    if request.kind not in KINDS:
        raise BadRequest(
            f"Unknown alert kind {request.kind}. Kinds: {', '.join(KINDS)}.", error_id="invalid_alert_kind"
        )
    if (request.webhook is None) == (request.email is None):
        raise BadRequest(
            "Give exactly one of --webhook URL or --email ADDRESS.", error_id="invalid_alert_target"
        )
    webhook = check_webhook_url(request.webhook) if request.webhook is not None else None
    email = normalize_email(request.email) if request.email is not None else None
    default_threshold, unit, default_minutes = KINDS[request.kind]
    threshold = request.threshold if request.threshold is not None else default_threshold
    if request.kind == "deploy" and request.threshold is not None:
        raise BadRequest("A deploy alert takes no --threshold.", error_id="invalid_threshold")
    if threshold is not None and not 0 < threshold <= 1_000_000:
        raise BadRequest(f"--threshold must be above 0 ({unit}).", error_id="invalid_threshold")
    if request.kind in ("errors", "memory") and threshold is not None and threshold > 100:
        raise BadRequest("--threshold is a percentage: 100 at most.", error_id="invalid_threshold")
    minutes = request.for_minutes if request.for_minutes is not None else default_minutes
    for name, value in (("--for", minutes), ("--repeat", request.repeat_minutes)):
        if not 1 <= value <= MAX_MINUTES:
            raise BadRequest(f"{name} is in minutes, from 1 to {MAX_MINUTES}.", error_id="invalid_minutes")
    return webhook, email, threshold, minutes


def list_alerts(*, session: Session, app: App) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.app_id == app.id).order_by(Alert.id)))


def add_alert(
    *, session: Session, app: App, actor: User, cipher: ConfigCipher, request: AlertRequest, limit: int
) -> tuple[Alert, str]:
    """The new alert and its webhook signing secret (kept encrypted; not shown again)."""
    webhook, email, threshold, minutes = _check(request)
    existing = list_alerts(session=session, app=app)
    if len(existing) >= limit:
        raise Conflict(
            f"{app.name} has {len(existing)} alerts, the most allowed. "
            "Remove one with wharf alerts:remove ID.",
            error_id="too_many_alerts",
        )
    secret = f"whsec_{secrets.token_hex(24)}"
    alert = Alert(
        app_id=app.id,
        kind=request.kind,
        webhook_url=webhook,
        email=email,
        threshold=threshold,
        for_minutes=minutes,
        repeat_minutes=request.repeat_minutes,
        secret_ciphertext=cipher.encrypt({"secret": secret}),
        state="ok",
    )
    session.add(alert)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="alert",
        app_name=app.name,
        message=f"Alert {alert.id} ({alert.kind} to {target_of(alert)}) added by {actor.email}",
    )
    return alert, secret


def target_of(alert: Alert) -> str:
    if alert.webhook_url is not None:
        parts = urlsplit(alert.webhook_url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    return str(alert.email)


def remove_alert(*, session: Session, app: App, actor: User, alert_id: int) -> Alert:
    alert = session.scalar(select(Alert).where(Alert.app_id == app.id, Alert.id == alert_id))
    if alert is None:
        raise NotFound(
            f"{app.name} has no alert {alert_id}. List them with wharf alerts.", error_id="alert_not_found"
        )
    session.delete(alert)
    record_event(
        session=session,
        actor=actor,
        action="alert",
        app_name=app.name,
        message=f"Alert {alert_id} ({alert.kind}) removed by {actor.email}",
    )
    return alert
