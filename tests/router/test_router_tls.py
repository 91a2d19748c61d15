"""Certificates added for custom domains: served with HTTP/2, HTTP redirected when asked."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.utils.router import running_dynos, running_router, self_signed
from wharf.router.render import RouterPaths
from wharf.router.routes import AppRoute, TlsCertificate

pytestmark = pytest.mark.e2e


def trusting(cert: TlsCertificate) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cert.cert_path)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


def served_certificate(
    port: int, hostname: str, context: ssl.SSLContext
) -> tuple[x509.Certificate, str | None]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der), tls.selected_alpn_protocol()


def test_each_custom_domain_gets_its_certificate_over_http2(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    shop = self_signed(tmp_path, "shop.example.com")
    blog = self_signed(tmp_path, "blog.example.org")
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(
            AppRoute(
                app="myapp",
                hostnames=("shop.example.com", "blog.example.org"),
                backends=(dyno.backend,),
                tls=(shop, blog),
            )
        )
        port = router.settings.https_port
        for cert in (shop, blog):
            served, protocol = served_certificate(port, cert.hostname, trusting(cert))
            assert served.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cert.hostname
            assert protocol == "h2"
        context = trusting(shop)
        context.set_alpn_protocols(["http/1.1"])
        answer = router.https_request("shop.example.com", "/checkout", context)
        assert answer.status == 200
        headers = answer.json()["headers"]
        assert isinstance(headers, dict)
        assert headers["x-forwarded-proto"] == "https"
        assert headers["x-forwarded-port"] == str(port)
        assert any("protocol=https" in line for line in router.router_lines("myapp"))
        assert router.request("shop.example.com").status == 200


def test_http_is_redirected_to_https_when_the_owner_asks(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    cert = self_signed(tmp_path, "secure.example.com")
    redirected = TlsCertificate(cert.hostname, cert.cert_path, cert.key_path, redirect_http=True)
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(
            AppRoute(
                app="myapp", hostnames=("secure.example.com",), backends=(dyno.backend,), tls=(redirected,)
            )
        )
        answer = router.request("secure.example.com", "/a/b?c=d")
        assert answer.status == 301
        port = router.settings.https_port
        assert answer.headers["location"] == f"https://secure.example.com:{port}/a/b?c=d"
        assert dyno.server.hits == 0
        assert router.request("myapp.localhost").status == 200


def test_unknown_names_get_no_certificate_and_a_broken_one_does_not_block_routes(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    good = self_signed(tmp_path, "good.example.com")
    other = self_signed(tmp_path, "other.example.com")
    broken = TlsCertificate("broken.example.com", good.cert_path, other.key_path)
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(
            AppRoute(
                app="myapp",
                hostnames=("good.example.com", "broken.example.com"),
                backends=(dyno.backend,),
                tls=(good, broken),
            )
        )
        assert served_certificate(router.settings.https_port, "good.example.com", trusting(good))
        with pytest.raises(ssl.SSLError):
            served_certificate(router.settings.https_port, "broken.example.com", trusting(good))
        assert router.request("broken.example.com").status == 200


def test_acme_http_challenges_are_answered_for_every_app_hostname(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", hostnames=("shop.example.com",), backends=(dyno.backend,)))
        challenges = RouterPaths(router.state_dir).acme_challenges
        (challenges / "token-123").write_text("token-123.thumbprint")
        answer = router.request("shop.example.com", "/.well-known/acme-challenge/token-123")
        assert (answer.status, answer.text) == (200, "token-123.thumbprint")
        assert router.request("shop.example.com", "/.well-known/acme-challenge/other").status == 404
        # A name with no server block yet (the API's before its first certificate) is answered too.
        unrouted = router.request("wharf.example.com", "/.well-known/acme-challenge/token-123")
        assert (unrouted.status, unrouted.text) == (200, "token-123.thumbprint")
        assert router.request("wharf.example.com", "/").status == 404
        assert dyno.server.hits == 0


def test_a_certificate_replaced_in_place_is_served_after_the_next_sync(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    first = self_signed(tmp_path, "renew.example.com")
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        router.publish(
            AppRoute(app="myapp", hostnames=(first.hostname,), backends=(dyno.backend,), tls=(first,))
        )
        port = router.settings.https_port
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        old_serial = served_certificate(port, first.hostname, insecure)[0].serial_number
        renewed_folder = tmp_path / "renewed"
        renewed_folder.mkdir()
        renewed = self_signed(renewed_folder, first.hostname)
        Path(renewed.cert_path).replace(first.cert_path)
        Path(renewed.key_path).replace(first.key_path)
        assert router.controller is not None
        router.controller.changed.set()
        router.wait_until(
            lambda: served_certificate(port, first.hostname, insecure)[0].serial_number != old_serial
        )
