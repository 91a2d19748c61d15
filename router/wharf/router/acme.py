"""Automatic certificates (ACME http-01) for the custom domains of apps that ask for them.

An operator setting: it only works where the router's HTTP port is reachable from the internet under
the app's hostnames (or from a private ACME server such as step-ca). The router already answers
``/.well-known/acme-challenge/`` on every app hostname from its webroot; this module runs the ACME
client (``acme-tiny``, Debian package ``acme-tiny``) against that webroot, one hostname at a time in
a background thread, and keeps the issued certificates in the state dir, outside the webroot.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wharf.router.render import RouterPaths
from wharf.router.routes import AppRoute, RouteTable, TlsCertificate

logger = logging.getLogger(__name__)

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


@dataclass(frozen=True)
class AcmeSettings:
    """Where certificates come from; ``ca_bundle`` trusts a private ACME server's HTTPS endpoint."""

    directory_url: str = LETS_ENCRYPT
    contact_email: str | None = None
    ca_bundle: Path | None = None
    renew_before_days: int = 30
    retry_after_seconds: float = 3600.0
    recheck_seconds: float = 3600.0


def acme_hostnames(route: AppRoute, domain: str) -> tuple[str, ...]:
    """The custom domains of an app with automatic certificates on: never a name under ``domain`` (the
    default hostnames, which the local authority serves) nor a ``.localhost`` name no public CA signs."""
    if not route.acme:
        return ()
    local = ("localhost", domain)
    return tuple(h for h in route.hostnames if not any(h == name or h.endswith("." + name) for name in local))


def with_issued_certificates(table: RouteTable, issued: dict[str, TlsCertificate], domain: str) -> RouteTable:
    """The table plus issued certificates for the custom domains of ACME apps that have none of their own."""
    apps = []
    for route in table.apps:
        own = {cert.hostname for cert in route.tls}
        extra = tuple(issued[h] for h in acme_hostnames(route, domain) if h not in own and h in issued)
        apps.append(dataclasses.replace(route, tls=route.tls + extra) if extra else route)
    return dataclasses.replace(table, apps=tuple(apps))


@dataclass(frozen=True)
class AcmeStatus:
    """Where a hostname's automatic certificate stands: `pending`, `issued` or `failing`."""

    app: str
    hostname: str
    state: str
    detail: str = ""


def ignore_status(_status: AcmeStatus) -> None:
    return None


class AcmeIssuer:
    """Keeps a valid certificate for every custom domain of the apps with automatic certificates on."""

    def __init__(
        self,
        settings: AcmeSettings,
        paths: RouterPaths,
        on_issued: Callable[[], None],
        on_status: Callable[[AcmeStatus], None] = ignore_status,
        domain: str = "localhost",
    ) -> None:
        self.settings = settings
        self.domain = domain
        self.paths = paths
        self.on_issued = on_issued
        self.on_status = on_status
        self._apps: dict[str, str] = {}
        self.folder = paths.acme_certificates
        self._pending: queue.Queue[str | None] = queue.Queue()
        self._queued: set[str] = set()
        self._next_attempt: dict[str, float] = {}
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def certificate(self, hostname: str) -> TlsCertificate:
        return TlsCertificate(
            hostname=hostname,
            cert_path=str(self.folder / f"{hostname}.crt"),
            key_path=str(self.folder / f"{hostname}.key"),
        )

    def issued(self, table: RouteTable) -> dict[str, TlsCertificate]:
        """Certificates already on disk for the ACME hostnames in ``table``."""
        return self.issued_hostnames(h for route in table.apps for h in acme_hostnames(route, self.domain))

    def issued_hostnames(self, hostnames: Iterable[str]) -> dict[str, TlsCertificate]:
        """Certificates already on disk for ``hostnames``."""
        certs = {h: self.certificate(h) for h in hostnames}
        return {h: c for h, c in certs.items() if Path(c.cert_path).exists() and Path(c.key_path).exists()}

    def request(self, table: RouteTable) -> None:
        """Queue every ACME hostname that has no certificate, or one close to expiry, for issuing."""
        own = {c.hostname for route in table.apps for c in route.tls}
        self.request_hostnames(
            (route.app, hostname)
            for route in table.apps
            for hostname in acme_hostnames(route, self.domain)
            if hostname not in own
        )

    def request_hostnames(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Queue each (app, hostname) not asked for within the recheck interval: issued when it has no
        certificate or one close to expiry, renewed otherwise."""
        now = time.monotonic()
        for app, hostname in wanted:
            with self._lock:
                due = hostname not in self._queued and self._next_attempt.get(hostname, 0.0) <= now
                if due:
                    self._next_attempt[hostname] = now + self.settings.recheck_seconds
                    self._queued.add(hostname)
                    self._apps[hostname] = app
            if due:
                self._pending.put(hostname)
        self._start_worker()

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="wharf-acme", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        self._pending.put(None)
        if self._worker is not None:
            self._worker.join(timeout=30)

    def _work(self) -> None:
        while (hostname := self._pending.get()) is not None:
            app = self._apps.get(hostname, "")
            try:
                if self._needs_certificate(hostname):
                    self._report(AcmeStatus(app, hostname, "pending"))
                    self.issue(hostname)
                    self.on_issued()
                self._report(AcmeStatus(app, hostname, "issued"))
            except (OSError, subprocess.SubprocessError) as error:
                logger.error("ACME: no certificate for %s: %s", hostname, error)
                retry = self.settings.retry_after_seconds
                with self._lock:
                    self._next_attempt[hostname] = time.monotonic() + retry
                self._report(AcmeStatus(app, hostname, "failing", f"{error}; next attempt in {retry:.0f} s"))
            finally:
                with self._lock:
                    self._queued.discard(hostname)

    def _report(self, status: AcmeStatus) -> None:
        try:
            self.on_status(status)
        except Exception:  # a status that cannot be recorded never stops issuing
            logger.exception("ACME: could not record the status of %s", status.hostname)

    def _needs_certificate(self, hostname: str) -> bool:
        cert = Path(self.certificate(hostname).cert_path)
        if not cert.exists():
            return True
        seconds = str(self.settings.renew_before_days * 86400)
        check = ["openssl", "x509", "-checkend", seconds, "-noout", "-in", str(cert)]
        return subprocess.run(check, capture_output=True, check=False, timeout=30).returncode != 0

    def issue(self, hostname: str) -> None:
        """Obtain a certificate for ``hostname`` over http-01 and install it atomically."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        account_key = self.folder / "account.key"
        if not account_key.exists():
            _run(["openssl", "genrsa", "-out", str(account_key), "2048"])
        key, csr = self.folder / f"{hostname}.key.next", self.folder / f"{hostname}.csr"
        _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", str(key), "-subj", f"/CN={hostname}", "-addext", f"subjectAltName=DNS:{hostname}",
              "-out", str(csr)])  # fmt: skip
        argv = ["acme-tiny", "--quiet", "--disable-check", "--account-key", str(account_key),
                "--csr", str(csr), "--acme-dir", str(self.paths.acme_challenges),
                "--directory-url", self.settings.directory_url]  # fmt: skip
        if self.settings.contact_email:
            argv += ["--contact", f"mailto:{self.settings.contact_email}"]
        environment = dict(os.environ)
        if self.settings.ca_bundle is not None:
            environment["SSL_CERT_FILE"] = str(self.settings.ca_bundle)
        chain = _run(argv, env=environment)
        certificate = self.certificate(hostname)
        Path(certificate.cert_path + ".next").write_bytes(chain)
        os.replace(key, certificate.key_path)
        os.replace(certificate.cert_path + ".next", certificate.cert_path)
        csr.unlink(missing_ok=True)
        logger.info("ACME: certificate issued for %s", hostname)


class AcmeCertificateSource:
    """A ``CertificateSource`` for the default hostnames of a public ``WHARF_DOMAIN``: the certificates the
    issuer obtained so far, asking it for the others (a hostname is on HTTP only until its certificate)."""

    def __init__(self, issuer: AcmeIssuer, domain: str, api_hostname: str | None = None) -> None:
        self.issuer = issuer
        self.domain = domain
        self.api_hostname = api_hostname

    def certificates(self, hostnames: Sequence[str]) -> dict[str, TlsCertificate]:
        self.issuer.request_hostnames((self._app_of(hostname), hostname) for hostname in hostnames)
        return self.issuer.issued_hostnames(hostnames)

    def _app_of(self, hostname: str) -> str:
        """The app whose log hears of a failure: none for the API's hostname."""
        label, _, rest = hostname.partition(".")
        return label if rest == self.domain and hostname != self.api_hostname else ""


def _run(argv: list[str], env: dict[str, str] | None = None) -> bytes:
    result = subprocess.run(argv, capture_output=True, env=env, check=False, timeout=300)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise subprocess.SubprocessError(f"{argv[0]} failed: {message[-1] if message else result.returncode}")
    return result.stdout
