"""`wharfd up` on a public WHARF_DOMAIN gets the API's default hostname a certificate from a real ACME
server (Pebble) without a word from the operator, with its data dir private to root as on a real host."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.utils.e2e import take_routers_down
from tests.utils.pebble import PEBBLE_INSTALLED, issuer_of, running_pebble
from tests.utils.wharfd_up import WharfdUp

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not PEBBLE_INSTALLED, reason="needs the Debian packages pebble and acme-tiny"),
]

API_HOSTNAME = "wharf.apps.example.com"


def health_over_https(port: int, hostname: str) -> tuple[int, dict[str, object]]:
    """GET /api/health through the router's HTTPS port, under ``hostname`` (SNI and Host)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        connection.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=hostname
        )
        connection.request("GET", "/api/health", headers={"Host": hostname})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_the_api_hostname_of_a_public_domain_gets_its_certificate_from_the_acme_server(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "wharf-data"
    data_dir.mkdir(mode=0o700)
    server = WharfdUp(data_dir)
    env = server.wharf.env
    with running_pebble(tmp_path, int(env["WHARF_HTTP_PORT"])) as acme:
        assert acme.ca_bundle is not None
        env.update(
            WHARF_DOMAIN="apps.example.com",
            WHARF_ACME_DIRECTORY=acme.directory_url,
            WHARF_ACME_CA_BUNDLE=str(acme.ca_bundle),
        )
        server.start()
        try:
            https_port = int(env["WHARF_HTTPS_PORT"])
            deadline = time.monotonic() + 120
            while not (issuer_of(https_port, API_HOSTNAME) or "").startswith("Pebble"):
                assert time.monotonic() < deadline, (
                    f"no certificate from Pebble for {API_HOSTNAME} within 120 s:\n"
                    + server.log_path.read_text()[-4000:]
                )
                time.sleep(1)
            status, body = health_over_https(https_port, API_HOSTNAME)
            assert status == 200 and body.get("status") == "ok"
        finally:
            server.stop()
            take_routers_down(env)
