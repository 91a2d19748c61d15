"""Automatic certificates from a real ACME server (Pebble) over http-01 answered by the router."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.utils.network import free_port
from tests.utils.router import running_dynos, running_router, self_signed
from wharf.router.acme import AcmeSettings
from wharf.router.routes import ACME_STATUS_KEY, AppRoute

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (shutil.which("pebble") and shutil.which("pebble-challtestsrv") and shutil.which("acme-tiny")),
        reason="needs the Debian packages pebble and acme-tiny",
    ),
]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@contextmanager
def running_pebble(folder: Path, http_port: int) -> Iterator[AcmeSettings]:
    """Pebble validating http-01 on ``http_port``; pebble-challtestsrv's DNS sends every name to 127.0.0.1."""
    tls = self_signed(folder, "localhost")
    dns_port, acme_port = free_port(), free_port()
    config = folder / "pebble.json"
    config.write_text(
        json.dumps(
            {"pebble": {"listenAddress": f"127.0.0.1:{acme_port}",
                        "managementListenAddress": f"127.0.0.1:{free_port()}",
                        "certificate": tls.cert_path, "privateKey": tls.key_path,
                        "httpPort": http_port, "tlsPort": free_port(),
                        "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        )
    )  # fmt: skip
    processes = [
        subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{free_port()}", "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"],
            env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    try:
        wait_for_port(acme_port)
        yield AcmeSettings(
            directory_url=f"https://localhost:{acme_port}/dir",
            ca_bundle=Path(tls.cert_path),
            retry_after_seconds=1,
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def issuer_of(port: int, hostname: str) -> str | None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    assert der is not None
    certificate = x509.load_der_x509_certificate(der)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert hostname in names.get_values_for_type(x509.DNSName)
    return str(certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_apps_with_automatic_certificates_get_one_from_the_acme_server(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    http_port = free_port()
    with (
        running_pebble(tmp_path, http_port) as acme,
        running_dynos("web.1") as (dyno,),
        running_router(redis_client, acme=acme, http_port=http_port) as router,
    ):
        router.publish(
            AppRoute(app="auto", hostnames=("auto.example.com",), backends=(dyno.backend,), acme=True)
        )
        https_port = router.settings.https_port
        router.wait_until(lambda: (issuer_of(https_port, "auto.example.com") or "").startswith("Pebble"), 60)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        answer = router.https_request("auto.example.com", "/", context)
        assert answer.status == 200
        assert router.request("auto.example.com").status == 200
        router.wait_until(lambda: acme_status(redis_client, "auto.example.com").get("state") == "issued", 30)
        assert acme_status(redis_client, "auto.example.com")["app"] == "auto"


def test_an_app_with_automatic_certificates_off_gets_none_from_the_acme_server(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    http_port = free_port()
    with (
        running_pebble(tmp_path, http_port) as acme,
        running_dynos("web.1") as (dyno,),
        running_router(redis_client, acme=acme, http_port=http_port) as router,
    ):
        router.publish(
            AppRoute(app="manual", hostnames=("manual.example.com",), backends=(dyno.backend,), acme=False),
            AppRoute(app="auto", hostnames=("on.example.com",), backends=(dyno.backend,), acme=True),
        )
        router.wait_until(lambda: acme_status(redis_client, "on.example.com").get("state") == "issued", 60)
        assert acme_status(redis_client, "manual.example.com") == {}
        assert not (issuer_of(router.settings.https_port, "manual.example.com") or "").startswith("Pebble")
        assert router.request("manual.example.com").status == 200


def acme_status(client: redis.Redis[bytes], hostname: str) -> dict[str, str]:
    raw = client.hget(ACME_STATUS_KEY, hostname)
    return json.loads(raw) if raw else {}


def test_a_failing_acme_order_is_recorded_with_why_and_logged_to_the_app(
    redis_client: redis.Redis[bytes],
) -> None:
    unreachable = AcmeSettings(directory_url=f"https://127.0.0.1:{free_port()}/dir", retry_after_seconds=600)
    with (
        running_dynos("web.1") as (dyno,),
        running_router(redis_client, acme=unreachable) as router,
    ):
        router.publish(
            AppRoute(app="doomed", hostnames=("doomed.example.com",), backends=(dyno.backend,), acme=True)
        )
        router.wait_until(
            lambda: acme_status(redis_client, "doomed.example.com").get("state") == "failing", 60
        )
        status = acme_status(redis_client, "doomed.example.com")
        assert status["app"] == "doomed"
        assert "acme-tiny failed" in status["detail"] and "next attempt in 600 s" in status["detail"]
        router.wait_until(
            lambda: any(app == "doomed" and "code=ACME" in line for app, line in router.lines), 10
        )
        assert router.request("doomed.example.com").status == 200, "plain HTTP keeps serving"
