"""TLS certificates for custom domains, uploaded by the app's owner (`wharf certs:add CERT KEY`).

Checked before they are stored: the key must match the certificate, the certificate must not have
expired, and it must name at least one of the app's domains. Files are written mode 0600 under the
data dir, where nginx reads them.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from wharf.platform.actions.domains import commit_and_publish, list_certificates, list_domains
from wharf.platform.errors import BadRequest, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Certificate, User
from wharf.platform.settings import Settings


def _names(cert: x509.Certificate) -> set[str]:
    names: set[str] = set()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names.update(n.lower() for n in san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        names.add(str(attribute.value).lower())
    return names


def _matches(pattern: str, hostname: str) -> bool:
    if pattern.startswith("*."):
        return hostname.count(".") == pattern.count(".") and hostname.endswith(pattern[1:])
    return pattern == hostname


def _load(cert_pem: str, key_pem: str) -> x509.Certificate:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as exc:
        raise BadRequest("The certificate is not a PEM certificate.", error_id="invalid_certificate") from exc
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise BadRequest(
            "The key is not an unencrypted PEM private key. "
            "Decrypt it first (openssl pkey -in KEY -out KEY.plain).",
            error_id="invalid_key",
        ) from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.PEM
    if key.public_key().public_bytes(encoding, public) != cert.public_key().public_bytes(encoding, public):
        raise BadRequest("The key does not belong to the certificate.", error_id="key_mismatch")
    if cert.not_valid_after_utc <= datetime.now(UTC):
        raise BadRequest("The certificate has expired. Upload a current one.", error_id="certificate_expired")
    return cert


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def add_certificate(
    *,
    session: Session,
    client: redis.Redis[bytes],
    settings: Settings,
    app: App,
    actor: User,
    cert_pem: str,
    key_pem: str,
    redirect_http: bool,
) -> Certificate:
    cert = _load(cert_pem, key_pem)
    domains = [d.hostname for d in list_domains(session=session, app=app)]
    covered = sorted(h for h in domains if any(_matches(n, h) for n in _names(cert)))
    if not covered:
        names = ", ".join(sorted(_names(cert))) or "no names"
        raise BadRequest(
            f"The certificate is for {names}, none of which is a domain of {app.name}. "
            "Add the domain first with `wharf domains:add HOST`.",
            error_id="certificate_domain_mismatch",
        )
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    folder = settings.wharf_data_dir / "certs" / app.name
    cert_path, key_path = folder / f"{fingerprint[:16]}.crt", folder / f"{fingerprint[:16]}.key"
    _write_private(cert_path, cert_pem)
    _write_private(key_path, key_pem)
    record = Certificate(
        app_id=app.id,
        hostnames=",".join(covered),
        cert_path=str(cert_path),
        key_path=str(key_path),
        fingerprint=fingerprint,
        redirect_http=redirect_http,
        expires_at=cert.not_valid_after_utc,
    )
    session.add(record)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="certificate",
        app_name=app.name,
        message=f"Added a certificate for {', '.join(covered)}",
    )
    commit_and_publish(session=session, client=client, settings=settings, app=app)
    return record


def remove_certificate(
    *,
    session: Session,
    client: redis.Redis[bytes],
    settings: Settings,
    app: App,
    actor: User,
    certificate_id: int,
) -> None:
    found = [c for c in list_certificates(session=session, app=app) if c.id == certificate_id]
    if not found:
        raise NotFound(f"{app.name} has no certificate {certificate_id}. List them with `wharf certs`.")
    for path in (found[0].cert_path, found[0].key_path):
        Path(path).unlink(missing_ok=True)
    session.delete(found[0])
    record_event(
        session=session,
        actor=actor,
        action="certificate",
        app_name=app.name,
        message=f"Removed the certificate for {found[0].hostnames}",
    )
    commit_and_publish(session=session, client=client, settings=settings, app=app)
