"""Certificates for the names Wharf gives out itself: each app's ``<app>.<WHARF_DOMAIN>`` and the API's.

The router asks a ``CertificateSource`` for them on every sync; the source issues or renews as
needed (the control plane's local authority does, see ``wharf.platform.security.leaves``) and
answers with files nginx can load. A renewed file changes the rendered config (its version comment),
so the router reloads gracefully and serves it, without a redeploy.
"""

from __future__ import annotations

import dataclasses
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
