"""Pebble, Let's Encrypt's test ACME server, on loopback: its DNS sends every name to 127.0.0.1 and it
validates http-01 on the port a test names (where the router under test listens)."""

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

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.utils.network import free_port
from tests.utils.router import self_signed
from wharf.router.acme import AcmeSettings

PEBBLE_INSTALLED = all(shutil.which(tool) for tool in ("pebble", "pebble-challtestsrv", "acme-tiny"))


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
