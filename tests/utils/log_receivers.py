"""Real drain receivers for tests: a syslog server over TCP (octet-counted frames) and an HTTPS-style
logplex endpoint over plain HTTP, each collecting what arrives."""

from __future__ import annotations

import http.server
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field

from wharf.platform.logs.syslog import parse_octet_frames

RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|\[.*\]) (?P<msg>.*)$",
    re.DOTALL,
)


@dataclass
class Received:
    messages: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, raw: list[bytes], headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.messages.extend(message.decode() for message in raw)
            if headers is not None:
                self.headers.append(headers)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)


class SyslogReceiver(socketserver.ThreadingTCPServer):
    """An RFC 6587 octet-counting syslog server on 127.0.0.1."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0) -> None:
        self.received = Received()
        super().__init__(("127.0.0.1", port), _SyslogHandler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"syslog://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _SyslogHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: SyslogReceiver = self.server  # type: ignore[assignment]
        rest = b""
        connection: socket.socket = self.request
        while chunk := connection.recv(65536):
            messages, rest = parse_octet_frames(rest + chunk)
            server.received.add(messages)


class LogplexReceiver(http.server.ThreadingHTTPServer):
    """Accepts logplex-1 POSTs, like a Heroku HTTPS drain endpoint; `status` sets its answer."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received = Received()
        self.status = 200
        super().__init__(("127.0.0.1", 0), _LogplexHandler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/logs"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _LogplexHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: LogplexReceiver = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if server.status == 200:
            messages, _ = parse_octet_frames(body)
            server.received.add(messages, dict(self.headers.items()))
        self.send_response(server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return
