"""The ACME issuer asks only for the custom domains of apps with automatic certificates on."""

from __future__ import annotations

from pathlib import Path

from wharf.router.acme import AcmeIssuer, AcmeSettings, with_issued_certificates
from wharf.router.render import RouterPaths
from wharf.router.routes import AppRoute, RouteTable, TlsCertificate


class RecordingIssuer(AcmeIssuer):
    """Issues nothing over the network: records each hostname asked for and leaves a file for it."""

    asked: list[str]

    def issue(self, hostname: str) -> None:
        self.asked.append(hostname)
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in (self.certificate(hostname).cert_path, self.certificate(hostname).key_path):
            Path(path).write_text("placeholder")


def test_only_custom_domains_of_apps_with_acm_on_are_issued(tmp_path: Path) -> None:
    uploaded = TlsCertificate(hostname="up.example.net", cert_path="/c.crt", key_path="/c.key")
    on = AppRoute(app="on", hostnames=("on.wharf.example.com", "shop.example.org", "a.localhost"), acme=True)
    off = AppRoute(app="off", hostnames=("off.wharf.example.com", "off.example.org"), acme=False)
    names = ("mine.wharf.example.com", "up.example.net")
    mine = AppRoute(app="mine", hostnames=names, tls=(uploaded,), acme=True)
    table = RouteTable(generation=1, apps=(on, off, mine))
    issuer = RecordingIssuer(
        AcmeSettings(directory_url="https://acme.invalid/dir"),
        RouterPaths(tmp_path),
        on_issued=lambda: None,
        domain="wharf.example.com",
    )
    issuer.asked = []

    issuer.request(table)
    issuer.stop()

    assert issuer.asked == ["shop.example.org"]
    served = with_issued_certificates(table, issuer.issued(table), "wharf.example.com")
    tls = {route.app: [cert.hostname for cert in route.tls] for route in served.apps}
    assert tls == {"on": ["shop.example.org"], "off": [], "mine": ["up.example.net"]}
