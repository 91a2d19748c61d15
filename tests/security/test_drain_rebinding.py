"""An HTTPS drain connects to the address it checked, not to whatever DNS answers next (rebinding)."""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wharf.platform.logs import drain_transport
from wharf.platform.logs.drain_transport import DrainUnavailable, transport_for
from wharf.platform.logs.drains import DrainSpec
from wharf.platform.logs.stream import LogLine

HOSTNAME = "drain.example.test"
LINE = LogLine(app="shop", ts="2026-12-01T18:00:00.000000+00:00", source="app", dyno="web.1", line="hello")


def certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOSTNAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "drain.crt", folder / "drain.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Recorder(http.server.ThreadingHTTPServer):
    """An HTTPS endpoint that records the Host header and SNI name of every POST."""

    daemon_threads = True

    def __init__(self, address: str, port: int, context: ssl.SSLContext) -> None:
        self.posts: list[dict[str, Any]] = []
        self.sni: list[str | None] = []
        context.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        super().__init__((address, port), Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: Recorder = self.server  # type: ignore[assignment]
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server.posts.append({"host": self.headers.get("Host")})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def endpoints(tmp_path: Path) -> Iterator[tuple[Recorder, Recorder, ssl.SSLContext]]:
    """The drain the check approved (127.0.0.1) and an 'internal' service (127.0.0.2), same port."""
    cert_path, key_path = certificate(tmp_path)

    def server_context() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context

    checked = Recorder("127.0.0.1", 0, server_context())
    internal = Recorder("127.0.0.2", checked.server_address[1], server_context())
    client_context = ssl.create_default_context(cafile=str(cert_path))
    yield checked, internal, client_context
    checked.close()
    internal.close()


def rebinding_resolver(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """getaddrinfo for the drain's name answers each address in turn (the last one from then on)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOSTNAME:
            return real(host, port, *args, **kwargs)
        address = answers[min(len(asked), len(answers) - 1)]
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 443)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return asked


def test_the_connection_goes_to_the_checked_address_not_a_second_answer(
    endpoints: tuple[Recorder, Recorder, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, internal, context = endpoints
    port = checked.server_address[1]
    asked = rebinding_resolver(monkeypatch, ["127.0.0.1", "127.0.0.2"])
    drain = DrainSpec(id=1, app="shop", url=f"https://{HOSTNAME}:{port}/logs", token="d.token")
    # Loopback is allowed here only because the test's endpoints live on it; the check still runs.
    transport = transport_for(drain, allow_private=True, ssl_context=context)
    try:
        transport.send([LINE])
    finally:
        transport.close()
    assert internal.posts == [] and internal.sni == []
    assert checked.posts == [{"host": f"{HOSTNAME}:{port}"}]
    assert checked.sni == [HOSTNAME]
    # One lookup, by the check itself: nothing resolved the name a second time.
    assert asked == ["127.0.0.1"]


def test_a_name_that_turns_internal_is_refused_before_connecting(
    endpoints: tuple[Recorder, Recorder, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, internal, context = endpoints
    port = checked.server_address[1]
    rebinding_resolver(monkeypatch, ["127.0.0.2"])
    drain = DrainSpec(id=1, app="shop", url=f"https://{HOSTNAME}:{port}/logs", token="d.token")
    transport = transport_for(drain, allow_private=False, ssl_context=context)
    try:
        with pytest.raises(DrainUnavailable, match="internal address"):
            transport.send([LINE])
    finally:
        transport.close()
    assert internal.posts == [] and checked.posts == []


def test_the_drain_certificate_is_still_verified_for_the_hostname(
    endpoints: tuple[Recorder, Recorder, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, _internal, _context = endpoints
    port = checked.server_address[1]
    rebinding_resolver(monkeypatch, ["127.0.0.1"])
    drain = DrainSpec(id=1, app="shop", url=f"https://{HOSTNAME}:{port}/logs", token="d.token")
    transport = transport_for(drain, allow_private=True, ssl_context=ssl.create_default_context())
    try:
        with pytest.raises(DrainUnavailable):
            transport.send([LINE])
    finally:
        transport.close()
    assert checked.posts == []
    assert drain_transport.pinned_url(drain.url, "127.0.0.1").host == "127.0.0.1"
