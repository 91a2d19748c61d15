"""Who serves the default hostnames: the local authority for localhost and private domains, ACME for a
public WHARF_DOMAIN (WHARF_DEFAULT_CERTIFICATES=auto), or what the operator says (acme, local)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.router.test_router_acm_hostnames import RecordingIssuer
from wharf.router.acme import AcmeCertificateSource, AcmeSettings
from wharf.router.default_certificates import default_certificate_issuer
from wharf.router.render import RouterPaths

ACME = "https://acme.invalid/dir"


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("localhost", "local"),
        ("apps.localhost", "local"),
        ("wharf.internal", "local"),
        ("paas.home.arpa", "local"),
        ("192.168.1.20", "local"),
        ("10.0.0.7", "local"),
        ("intranet", "local"),
        ("apps.example.org", "acme"),
        ("PaaS.Example.NET.", "acme"),
    ],
)
def test_auto_takes_acme_only_for_a_public_domain(domain: str, expected: str) -> None:
    assert default_certificate_issuer("auto", domain, acme_directory=ACME) == expected


def test_auto_without_an_acme_directory_and_the_explicit_modes() -> None:
    assert default_certificate_issuer("auto", "apps.example.org", acme_directory=None) == "local"
    assert default_certificate_issuer("local", "apps.example.org", acme_directory=ACME) == "local"
    assert default_certificate_issuer("acme", "wharf.internal", acme_directory=ACME) == "acme"
    with pytest.raises(ValueError, match="WHARF_ACME_DIRECTORY"):
        default_certificate_issuer("acme", "apps.example.org", acme_directory=None)
    with pytest.raises(ValueError, match="auto, acme or local"):
        default_certificate_issuer("letsencrypt", "apps.example.org", acme_directory=ACME)


def test_the_acme_source_serves_what_was_issued_and_asks_for_the_rest(tmp_path: Path) -> None:
    issuer = RecordingIssuer(AcmeSettings(directory_url=ACME), RouterPaths(tmp_path), on_issued=lambda: None)
    issuer.asked = []
    source = AcmeCertificateSource(issuer, "apps.example.org", api_hostname="wharf.apps.example.org")
    wanted = ["shop.apps.example.org", "wharf.apps.example.org"]

    source.certificates(wanted)  # asks the issuer, which issues in the background
    issuer.stop()

    assert issuer.asked == wanted
    assert issuer._apps == {"shop.apps.example.org": "shop", "wharf.apps.example.org": ""}
    served = source.certificates(wanted)
    assert sorted(served) == wanted
    shop = tmp_path / "acme-certs" / "shop.apps.example.org.crt"
    assert served["shop.apps.example.org"].cert_path == str(shop)
