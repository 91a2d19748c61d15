"""Where each custom domain's certificate stands, as Heroku's `certs:auto` shows it, and every
certificate the router serves for an app (`wharf certs`): uploaded, from ACME, or from the local authority."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from wharf.platform.actions.domains import default_hostname, list_certificates, list_domains
from wharf.platform.models import App
from wharf.platform.settings import Settings
from wharf.router.default_certificates import default_certificate_issuer
from wharf.router.render import RouterPaths
from wharf.router.routes import ACME_STATUS_KEY

UPLOADED, ACM, LOCAL = "uploaded", "acm", "local"
ACM_OFF_DETAIL = "automatic certificates are off for this app (turn them on with `wharf certs:auto:enable`)"


@dataclass(frozen=True)
class DomainCertificate:
    hostname: str
    # uploaded | issued | pending | failing | off
    status: str
    detail: str
    updated_at: str | None


def automatic_certificates(
    *, session: Session, client: redis.Redis[bytes], settings: Settings, app: App
) -> list[DomainCertificate]:
    certificates = list_certificates(session=session, app=app)
    uploaded = {name for cert in certificates for name in cert.hostnames.split(",")}
    hostnames = [domain.hostname for domain in list_domains(session=session, app=app)]
    recorded = client.hmget(ACME_STATUS_KEY, hostnames) if hostnames else []
    statuses = []
    for hostname, raw in zip(hostnames, recorded, strict=True):
        if hostname in uploaded:
            statuses.append(DomainCertificate(hostname, "uploaded", "served from `wharf certs:add`", None))
            continue
        if not app.acm:
            statuses.append(DomainCertificate(hostname, "off", ACM_OFF_DETAIL, None))
            continue
        if settings.wharf_acme_directory is None:
            detail = "automatic certificates are off on this host (the operator sets WHARF_ACME_DIRECTORY)"
            statuses.append(DomainCertificate(hostname, "off", detail, None))
            continue
        entry = _entry(raw)
        if entry is None or entry.get("app") != app.name:
            statuses.append(DomainCertificate(hostname, "pending", "waiting for the router to ask", None))
            continue
        statuses.append(
            DomainCertificate(
                hostname,
                str(entry.get("state", "pending")),
                str(entry.get("detail", "")),
                str(entry.get("updated_at")) if entry.get("updated_at") else None,
            )
        )
    return statuses


def _entry(raw: bytes | None) -> dict[str, object] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class ServedCertificate:
    """A certificate the router serves for the app; ``id`` only for an uploaded one (`certs:remove ID`)."""

    type: str
    id: int | None
    hostnames: list[str]
    fingerprint: str
    redirect_http: bool
    expires_at: datetime
    created_at: datetime | None


def served_certificates(*, session: Session, settings: Settings, app: App) -> list[ServedCertificate]:
    """Uploaded certificates, the ACME ones of custom domains without one, then the default hostname's
    (from ACME or the local authority, as `WHARF_DEFAULT_CERTIFICATES` chooses)."""
    uploaded = list_certificates(session=session, app=app)
    served = [
        ServedCertificate(
            UPLOADED, c.id, c.hostnames.split(","), c.fingerprint, c.redirect_http, c.expires_at, c.created_at
        )
        for c in uploaded
    ]
    covered = {name for cert in uploaded for name in cert.hostnames.split(",")}
    paths = RouterPaths(settings.router_state_dir)
    if app.acm and settings.wharf_acme_directory is not None:
        for domain in list_domains(session=session, app=app):
            if domain.hostname not in covered:
                served += _from_file(ACM, domain.hostname, paths.acme_certificates)
    hostname = default_hostname(app, settings)
    if hostname not in covered:
        from_acme = _default_hostnames_from_acme(settings)
        folder = paths.acme_certificates if from_acme else paths.local_certificates
        served += _from_file(ACM if from_acme else LOCAL, hostname, folder)
    return served


def _from_file(kind: str, hostname: str, folder: Path) -> list[ServedCertificate]:
    """The certificate ``folder`` holds for ``hostname``; none when it was not issued (yet)."""
    try:
        cert = x509.load_pem_x509_certificate((folder / f"{hostname}.crt").read_bytes())
    except (OSError, ValueError):
        return []
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return [ServedCertificate(kind, None, [hostname], fingerprint, False, cert.not_valid_after_utc, None)]


def _default_hostnames_from_acme(settings: Settings) -> bool:
    """As the router decides (a setting it refuses to start with counts as the local authority here)."""
    try:
        issuer = default_certificate_issuer(
            settings.wharf_default_certificates,
            settings.wharf_domain,
            acme_directory=settings.wharf_acme_directory,
        )
    except ValueError:
        return False
    return issuer == "acme"
