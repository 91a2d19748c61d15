"""Real backends ("dynos") and a running router for the router tests."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.utils.network import free_port
from wharf.router.acme import AcmeSettings
from wharf.router.controller import RouterController
from wharf.router.default_certificates import CertificateSource
from wharf.router.nginx import NginxMaster
from wharf.router.render import RouterPaths, RouterSettings
from wharf.router.routes import AppRoute, Backend, RouteTable, TlsCertificate, publish_routes

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def self_signed(folder: Path, hostname: str) -> TlsCertificate:
    """A certificate and key for ``hostname``, valid for a month, as an app owner would upload."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{hostname}.crt", folder / f"{hostname}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return TlsCertificate(hostname=hostname, cert_path=str(cert_path), key_path=str(key_path))


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with JSON describing the request it got; ``/sleep?s=N`` waits first."""

    protocol_version = "HTTP/1.1"
    server: EchoServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket_echo()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path == "/sleep":
            time.sleep(float(parse_qs(url.query)["s"][0]))
        self.server.hits += 1
        if url.path == "/bytes":
            self._answer_bytes(min(int(parse_qs(url.query)["n"][0]), 64 * 1024 * 1024))
            return
        payload = json.dumps(
            {
                "backend": self.server.name,
                "method": self.command,
                "path": self.path,
                "body_length": len(body),
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def _answer_bytes(self, count: int) -> None:
        """``/bytes?n=N``: N bytes of a repeating pattern, more than nginx buffers in memory for a large N."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        chunk = bytes(range(256)) * 256
        sent = 0
        while sent < count:
            piece = chunk[: count - sent]
            self.wfile.write(piece)
            sent += len(piece)

    def _websocket_echo(self) -> None:
        accept = base64.b64encode(
            hashlib.sha1(  # noqa: S324 - RFC 6455 handshake
                (self.headers["Sec-WebSocket-Key"] + WEBSOCKET_GUID).encode()
            ).digest()
        ).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        message = read_frame(self.rfile)
        self.wfile.write(frame(f"{self.server.name}:{message.decode()}".encode(), mask=False))
        self.wfile.flush()
        self.close_connection = True


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str, backlog: int = 5, host: str = "127.0.0.1") -> None:
        self.request_queue_size = backlog
        super().__init__((host, 0), EchoHandler)
        self.name = name
        self.hits = 0


@dataclass
class Dyno:
    """A running backend and the route table entry pointing at it."""

    name: str
    server: EchoServer

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def backend(self) -> Backend:
        return Backend(dyno=self.name, host=str(self.server.server_address[0]), port=self.port)


@contextmanager
def running_dynos(*names: str, host: str = "127.0.0.1") -> Iterator[list[Dyno]]:
    dynos = [Dyno(name=name, server=EchoServer(name, host=host)) for name in names]
    threads = [threading.Thread(target=d.server.serve_forever, kwargs={"poll_interval": 0.05}) for d in dynos]
    for thread in threads:
        thread.start()
    try:
        yield dynos
    finally:
        for dyno in dynos:
            dyno.server.shutdown()
            dyno.server.server_close()
        for thread in threads:
            thread.join()


@contextmanager
def closing_backend() -> Iterator[int]:
    """A 'dyno' that accepts connections and closes them without answering (Heroku's H13)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()


@contextmanager
def unanswering_backend() -> Iterator[int]:
    """A 'dyno' whose connects time out, as on a node that is gone: its one-place accept queue is
    full and never accepted, so the kernel drops every further SYN."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    queued = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        yield port
    finally:
        queued.close()
        listener.close()


@contextmanager
def late_accepting_dyno(name: str, after: float) -> Iterator[Dyno]:
    """A dyno caught in a burst: its one-place accept queue is full, so the kernel drops SYNs until it
    starts accepting ``after`` seconds from now, as a server with a small backlog does under load."""
    server = EchoServer(name, backlog=0)
    filler = socket.create_connection(("127.0.0.1", int(server.server_address[1])), timeout=1)
    leaving = threading.Event()
    serving = threading.Event()

    def serve_later() -> None:
        if not leaving.wait(after):
            serving.set()
            server.serve_forever(poll_interval=0.05)

    thread = threading.Thread(target=serve_later)
    thread.start()
    try:
        yield Dyno(name=name, server=server)
    finally:
        leaving.set()
        if serving.is_set():
            server.shutdown()
        thread.join()
        filler.close()
        server.server_close()


def frame(payload: bytes, *, mask: bool) -> bytes:
    """One final text frame (RFC 6455); clients must mask, servers must not."""
    header = bytes([0x81])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header += bytes([mask_bit | length])
    else:
        header += bytes([mask_bit | 126]) + struct.pack("!H", length)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(stream: Callable[[int], bytes] | object) -> bytes:
    read: Callable[[int], bytes] = stream if callable(stream) else stream.read  # type: ignore[attr-defined]
    _opcode, second = read(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", read(2))[0]
    key = read(4) if second & 0x80 else b""
    payload = read(length)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return payload


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        return dict(json.loads(self.body))

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class RouterHarness:
    """A router controller running in a thread against a private nginx, Redis and state dir."""

    redis: redis.Redis[bytes]
    settings: RouterSettings
    state_dir: Path
    lines: list[tuple[str, str]] = field(default_factory=list)
    controller: RouterController | None = None
    generation: int = 0

    def publish(self, *apps: AppRoute, wait: bool = True) -> None:
        """Publish a new table; by default wait until nginx serves it (the router's status file says so)."""
        self.generation += 1
        publish_routes(self.redis, RouteTable(generation=self.generation, apps=apps))
        if wait:
            self.wait_until(lambda: self.applied_generation() >= self.generation)

    def applied_generation(self) -> int:
        try:
            return int(json.loads((self.state_dir / "status.json").read_text())["generation"])
        except (OSError, ValueError):
            return -1

    def request(
        self,
        host: str,
        path: str = "/",
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 40,
    ) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.settings.http_port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
            answer = connection.getresponse()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        finally:
            connection.close()

    def https_request(self, host: str, path: str, context: ssl.SSLContext) -> Response:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.settings.https_port, timeout=10, context=context
        )
        try:
            connection.sock = context.wrap_socket(
                socket.create_connection(("127.0.0.1", self.settings.https_port), timeout=10),
                server_hostname=host,
            )
            connection.request("GET", path, headers={"Host": host})
            answer = connection.getresponse()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        finally:
            connection.close()

    def wait_until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.02)
        raise AssertionError(f"condition not met within {timeout} s")

    def wait_for_backend(self, host: str, backend: str, timeout: float = 10.0) -> None:
        def answered() -> bool:
            answer = self.request(host)
            return answer.status == 200 and answer.json().get("backend") == backend

        self.wait_until(answered, timeout)

    def router_lines(self, app: str, timeout: float = 5.0, count: int = 1) -> list[str]:
        """Router log lines delivered for ``app``, waiting for at least ``count`` of them."""
        self.wait_until(lambda: len([1 for a, _ in self.lines if a == app]) >= count, timeout)
        return [line for a, line in self.lines if a == app]


def private_state_dir() -> Path:
    """A state dir private to root (0700), as the data dir of `wharfd up` is: nginx's unprivileged workers
    cannot enter it, so the router must keep what they read and write elsewhere."""
    return Path(tempfile.mkdtemp(prefix="wharf-router-test-"))


@contextmanager
def running_router(
    redis_client: redis.Redis[bytes],
    acme: AcmeSettings | None = None,
    certificate_source: CertificateSource | None = None,
    **overrides: object,
) -> Iterator[RouterHarness]:
    settings = RouterSettings(
        **{
            "http_port": free_port(),
            "https_port": free_port(),
            "worker_processes": 1,
            "log_flush_ms": 50,
            **overrides,
        }  # type: ignore[arg-type]
    )
    state_dir = private_state_dir()
    harness = RouterHarness(redis=redis_client, settings=settings, state_dir=state_dir)
    paths = RouterPaths(state_dir)
    harness.controller = RouterController(
        redis=redis_client,
        settings=settings,
        paths=paths,
        nginx=NginxMaster(paths=paths),
        log_sink=lambda app, line: harness.lines.append((app, line)),
        certificate_source=certificate_source,
    )
    if acme is not None:
        harness.controller.enable_acme(acme)
    stop = threading.Event()
    thread = threading.Thread(target=harness.controller.run, args=(stop,))
    thread.start()
    try:
        harness.wait_until(lambda: harness.controller is not None and harness.controller.nginx.running)
        harness.wait_until(lambda: _answers(harness))
        yield harness
    finally:
        stop.set()
        thread.join(timeout=30)
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(paths.public_dir, ignore_errors=True)


def _answers(harness: RouterHarness) -> bool:
    try:
        harness.request("probe.invalid", timeout=2)
    except OSError:
        return False
    return True
