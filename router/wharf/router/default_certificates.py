"""Certificates for the names Wharf gives out itself: each app's ``<app>.<WHARF_DOMAIN>`` and the API's.

The router asks a ``CertificateSource`` for them on every sync; the source issues or renews as
needed (the control plane's local authority does, see ``wharf.platform.security.leaves``) and
answers with files nginx can load. A renewed file changes the rendered config (its version comment),
so the router reloads gracefully and serves it, without a redeploy.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence
from typing import Protocol

from wharf.router.routes import RouteTable, TlsCertificate


class CertificateSource(Protocol):
    """Gives a current certificate for each hostname it can vouch for."""

    def certificates(self, hostnames: Sequence[str]) -> dict[str, TlsCertificate]: ...


def default_hostnames(table: RouteTable, domain: str) -> list[str]:
    """The default hostname of every app that has no certificate of its own for it."""
    wanted = []
    for route in table.apps:
        hostname = f"{route.app}.{domain}"
        if all(cert.hostname != hostname for cert in route.tls):
            wanted.append(hostname)
    return wanted


def with_default_certificates(
    table: RouteTable, domain: str, issued: dict[str, TlsCertificate]
) -> RouteTable:
    """The table plus the issued certificate of each app's default hostname, when it has none of its own."""
    apps = []
    for route in table.apps:
        hostname = f"{route.app}.{domain}"
        own = any(cert.hostname == hostname for cert in route.tls)
        cert = issued.get(hostname)
        apps.append(dataclasses.replace(route, tls=(*route.tls, cert)) if cert and not own else route)
    return dataclasses.replace(table, apps=tuple(apps))


# Names no public CA signs: special-use and private-use suffixes (RFC 6761, RFC 8375, ICANN's .internal)
# and the ones commonly used on private networks.
PRIVATE_SUFFIXES = ("localhost", "local", "localdomain", "internal", "lan", "home", "home.arpa", "corp",
                    "intranet", "private", "test", "example", "invalid")  # fmt: skip
DEFAULT_CERTIFICATE_MODES = ("auto", "acme", "local")


def is_public_domain(domain: str) -> bool:
    """Whether a public ACME CA could vouch for names under ``domain`` (an IP address is never one here)."""
    domain = domain.lower().rstrip(".")
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        pass
    else:
        return False
    if "." not in domain:
        return False
    return not any(domain == suffix or domain.endswith("." + suffix) for suffix in PRIVATE_SUFFIXES)


def default_certificate_issuer(mode: str, domain: str, *, acme_directory: str | None) -> str:
    """Who serves the default hostnames (``WHARF_DEFAULT_CERTIFICATES``): ``"acme"`` or ``"local"``.

    ``auto`` takes ACME for a public ``WHARF_DOMAIN`` on a host with an ACME directory, the local
    authority otherwise; ``acme`` and ``local`` say it outright.
    """
    if mode not in DEFAULT_CERTIFICATE_MODES:
        raise ValueError(f"WHARF_DEFAULT_CERTIFICATES is {mode!r}: use auto, acme or local")
    if mode == "acme" and acme_directory is None:
        raise ValueError(
            "WHARF_DEFAULT_CERTIFICATES=acme needs an ACME directory: set WHARF_ACME_DIRECTORY "
            "(e.g. https://acme-v02.api.letsencrypt.org/directory), or use auto or local"
        )
    if mode == "auto":
        return "acme" if acme_directory is not None and is_public_domain(domain) else "local"
    return mode
