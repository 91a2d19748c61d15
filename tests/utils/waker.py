"""The waker on loopback with a fake control plane (`Control`, `running`), and real dynos for it: one that
streams its answer in two parts, a websocket echo dyno (the websockets library's own server), and the
command of a websocket echo dyno for the stack image (WEBSOCKET_WEB)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from wharf.platform.waker.holding import HeldRequests
from wharf.platform.waker.server import Waker, WakerHooks, WakerServer


@dataclass
class Control:
    """A fake control plane: asleep apps, and the dyno that comes up DELAY seconds after a wake."""

    backend: tuple[str, int]
    asleep: set[str] = field(default_factory=set)
    delay: float = 0.3
    woken_at: dict[str, float] = field(default_factory=dict)
    wakes: list[str] = field(default_factory=list)

    def wake(self, app: str) -> None:
        self.wakes.append(app)
        self.woken_at[app] = time.monotonic()

    def routed(self, app: str) -> tuple[str, int] | None:
        woken = self.woken_at.get(app)
        return self.backend if woken is not None and time.monotonic() - woken >= self.delay else None


@contextmanager
def running(control: Control, *, per_app: int = 50, total: int = 500, timeout: float = 5.0) -> Iterator[int]:
    hooks = WakerHooks(is_asleep=lambda app: app in control.asleep, wake=control.wake, backend=control.routed)
    waker = Waker(hooks, HeldRequests(per_app=per_app, total=total), timeout=timeout, request_timeout=5)
    server = WakerServer(("127.0.0.1", 0), waker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class StreamingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.client_got_first = threading.Event()
        super().__init__(("127.0.0.1", 0), StreamingHandler)


class StreamingHandler(BaseHTTPRequestHandler):
    """A chunked answer whose second part is sent only once the client has the first (or 15 s passed)."""

    protocol_version = "HTTP/1.1"
    server: StreamingServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(FIRST)
        second = SECOND
        if not self.server.client_got_first.wait(15):
            second = b"second part, sent without the client having the first\n"
        self._chunk(second)
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


@contextmanager
def streaming_backend() -> Iterator[tuple[tuple[str, int], threading.Event]]:
    """The dyno's address and the event the test sets when its client has read the first part."""
    server = StreamingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield ("127.0.0.1", int(server.server_address[1])), server.client_got_first
    finally:
        server.shutdown()
        server.server_close()


FIRST = b"first part\n"
SECOND = b"second part, sent once the first was seen\n"


def read_streamed(
    connection: http.client.HTTPConnection, headers: dict[str, str], client_got_first: threading.Event
) -> tuple[int, bytes, bytes]:
    """GET / and read the answer as a client would: (status, what came first, the rest)."""
    connection.request("GET", "/", headers=headers)
    response = connection.getresponse()
    first = response.read1(1024)
    client_got_first.set()
    return response.status, first, response.read()


@dataclass
class WebsocketDyno:
    address: tuple[str, int]
    closed: threading.Event = field(default_factory=threading.Event)


@contextmanager
def echo_websocket_dyno() -> Iterator[WebsocketDyno]:
    """Echoes each message ("echo PATH: text", binary as is); a "bye" is echoed and then the dyno closes."""
    dyno = WebsocketDyno(address=("127.0.0.1", 0))

    def handler(connection: ServerConnection) -> None:
        path = connection.request.path if connection.request is not None else "?"
        try:
            for message in connection:
                connection.send(f"echo {path}: {message}" if isinstance(message, str) else message)
                if message == "bye":
                    connection.close()
                    return
        except ConnectionClosed:
            pass
        dyno.closed.set()

    with serve(handler, "127.0.0.1", 0, compression=None) as server:
        dyno.address = ("127.0.0.1", int(server.socket.getsockname()[1]))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield dyno
        finally:
            server.shutdown()


STACK_IMAGE = "wharf/stack-run:trixie"
# A websocket echo dyno in the stack image's python3, stdlib only: GET / answers 200 (the health check),
# an upgrade is accepted and each text frame (under 126 bytes) comes back as "echo: <text>".
WEBSOCKET_DYNO = """
import base64, hashlib, http.server, os
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        key = self.headers.get("Sec-WebSocket-Key")
        if not key:
            body = b"websocket dyno\\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest())
        head = b"HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
        self.wfile.write(head + b"Sec-WebSocket-Accept: " + accept + b"\\r\\n\\r\\n")
        self.wfile.flush()
        while len(head := self.rfile.read(2)) == 2:
            opcode, length = head[0] & 15, head[1] & 127
            mask = self.rfile.read(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self.wfile.write(b"\\x88\\x00")
                return
            answer = b"echo: " + payload
            self.wfile.write(bytes([0x81, len(answer)]) + answer)
            self.wfile.flush()
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""
WEBSOCKET_WEB = f"python3 -c \"exec(bytes.fromhex('{WEBSOCKET_DYNO.encode().hex()}'))\""
