"""Where each custom domain's certificate stands, as Heroku's `certs:auto` shows it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session

from wharf.platform.actions.domains import list_certificates, list_domains
from wharf.platform.models import App
from wharf.platform.settings import Settings
from wharf.router.routes import ACME_STATUS_KEY


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
