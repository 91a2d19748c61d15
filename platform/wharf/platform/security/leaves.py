"""Short-lived leaf certificates from the local authority's intermediate, renewed well before expiry.

The router asks on every sync (every few seconds); a leaf is issued the first time a hostname is
asked for and again once less than a third of its life is left, so a week-long leaf is replaced
after about four and a half days and a stopped router has days to come back before anything expires.
Only the intermediate is read here, never the root.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from wharf.platform.security.authority import issue_leaf, write_private
from wharf.router.routes import TlsCertificate

logger = logging.getLogger(__name__)

LEAF_LIFETIME = datetime.timedelta(days=7)
HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


@dataclass
class LocalCertificates:
    """A ``wharf.router`` certificate source: leaves in ``folder``, signed by ``intermediate``."""

    intermediate: Path
    folder: Path
    lifetime: datetime.timedelta = LEAF_LIFETIME
    renew_fraction: float = 1 / 3
    _expiry: dict[str, datetime.datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self, hostname: str) -> TlsCertificate:
        return TlsCertificate(
            hostname=hostname,
            cert_path=str(self.folder / f"{hostname}.crt"),
            key_path=str(self.folder / f"{hostname}.key"),
        )

    def certificates(self, hostnames: Sequence[str]) -> dict[str, TlsCertificate]:
        with self._lock:
            return {h: self._current(h) for h in hostnames if HOSTNAME.fullmatch(h) and len(h) <= 253}

    def _current(self, hostname: str) -> TlsCertificate:
        cert = self.paths(hostname)
        not_after = self._expiry.get(hostname) or _not_after(Path(cert.cert_path))
        now = _utcnow()
        if not_after is None or not_after - now < self.lifetime * self.renew_fraction:
            leaf = issue_leaf(self.intermediate, [hostname], self.lifetime)
            # The key first: the certificate's new version is what tells the router to reload.
            write_private(Path(cert.key_path), leaf.key_pem)
            write_private(Path(cert.cert_path), leaf.chain_pem)
            not_after = leaf.not_after
            logger.info("local certificate for %s issued, valid until %s", hostname, not_after.isoformat())
        self._expiry[hostname] = not_after
        return cert


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _not_after(path: Path) -> datetime.datetime | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
    except (OSError, ValueError):
        return None
