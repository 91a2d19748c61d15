"""The waker's HTTP server, on loopback: the router passes it a sleeping app's requests (the app named
by the router in X-Wharf-App).

For each request it wakes the app once (whoever comes first: the others wait on the same wake), holds
the request until the app has a routed healthy dyno (WHARF_WAKE_TIMEOUT_SECONDS at most) and then
proxies it to that dyno itself, exactly once: the client gets the app's own response with no retry of
its own, and a POST is never replayed (a failure after sending answers 502, it is not sent again).
Beyond the bounds (held requests per app and in total) it answers 503 with Retry-After (Heroku's H11);
when no dyno comes up within the boot timeout, every held request gets the router's H20 "App boot
timeout" page (503). The error code goes back to nginx in X-Wharf-Error, so the router's log line for the
request carries it.

A chunked request body is read whole (at most MAX_BODY, else 413) and sent to the dyno once, with a
Content-Length; the dyno's answer is relayed as it arrives, so a streamed answer streams. An
`Upgrade: websocket` request is held the same way and then relayed both ways (tunnel.py), counted as held
while it lasts.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wharf.platform.waker.bodies import BadBody, BodyTooLarge, read_body
from wharf.platform.waker.holding import HeldRequests
from wharf.platform.waker.tunnel import relay, upgrade_request
from wharf.router.pages import filled_error_page
from wharf.router.routes import APP_NAME

log = logging.getLogger(__name__)

APP_HEADER = "X-Wharf-App"
ERROR_HEADER = "X-Wharf-Error"
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "content-length", APP_HEADER.lower(), ERROR_HEADER.lower()}
)  # fmt: skip
MAX_BODY = 10 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass(frozen=True)
class WakerHooks:
    """What the waker asks the control plane; fakes in the unit tests."""

    is_asleep: Callable[[str], bool]  # asleep, with an autoscale min of 0
    wake: Callable[[str], object]  # formation back to 1, through update_formation
    backend: Callable[[str], tuple[str, int] | None]  # a routed healthy web dyno
    woke: Callable[[str], None] = lambda app: None  # the dyno is routed: clear the asleep mark


class Waker:
    def __init__(
        self, hooks: WakerHooks, held: HeldRequests, *, timeout: float, request_timeout: float
    ) -> None:
        self.hooks = hooks
        self.held = held
        self.timeout = timeout
        self.request_timeout = request_timeout
        self._waking: dict[str, threading.Lock] = {}
        # Apps woken and not routed yet: the requests that follow wait on the same wake.
        self._woken_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.wakes = 0

    def wake_once(self, app: str) -> bool:
        """Wake APP unless it is awake already; False when it is not a sleeping app at all."""
        with self._lock:
            lock = self._waking.setdefault(app, threading.Lock())
        with lock:
            if self.hooks.backend(app) is not None:
                return True
            woken = self._woken_at.get(app)
            if woken is not None and time.monotonic() - woken < self.timeout:
                return True
            if not self.hooks.is_asleep(app):
                return False
            self.hooks.wake(app)
            self._woken_at[app] = time.monotonic()
            self.wakes += 1
            return True

    def wait_for_backend(self, app: str) -> tuple[str, int] | None:
        deadline = time.monotonic() + self.timeout
        while True:
            found = self.hooks.backend(app)
            if found is not None:
                if self._woken_at.pop(app, None) is not None:
                    self.hooks.woke(app)
                return found
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)


class WakerHandler(BaseHTTPRequestHandler):
    server: WakerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        log.debug(format, *args)

    def _plain(self, status: int, text: str, retry_after: int | None = None, code: str | None = None) -> None:
        self._answer(status, "text/plain; charset=utf-8", (text + "\n").encode(), retry_after, code)

    def _answer(
        self, status: int, content_type: str, body: bytes, retry_after: int | None, code: str | None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        if code is not None:
            self.send_header(ERROR_HEADER, code)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def _boot_timeout(self) -> None:
        """Heroku's H20: the dyno did not come up in time; the request was never sent to it."""
        values = {
            "request_id": self.headers.get("X-Request-Id", ""),
            "boot_timeout": f"{self.server.waker.timeout:g}",
        }
        page = filled_error_page("boot-timeout", values).encode()
        self._answer(503, "text/html; charset=utf-8", page, 5, "H20")

    def _handle(self) -> None:
        app = self.headers.get(APP_HEADER, "")
        if not APP_NAME.fullmatch(app):
            self._plain(400, "The waker answers the router only.")
            return
        websocket = self.headers.get("Upgrade", "").lower() == "websocket"
        try:
            body = None if websocket else read_body(self.rfile, self.headers, MAX_BODY)
        except BodyTooLarge:
            self._plain(413, f"A request to a sleeping app carries at most {MAX_BODY // 2**20} MB.")
            return
        except BadBody as error:
            self._plain(400, f"A malformed request body: {error}.")
            return
        waker = self.server.waker
        with waker.held.hold(app) as admitted:
            if not admitted:
                self._plain(503, f"{app} is waking up; too many requests wait for it. Try again.", 5, "H11")
                return
            if not waker.wake_once(app):
                hint = f"{app} has no web dynos running: wharf ps:scale web=1 -a {app}"
                self._plain(503, hint, code="H14")
                return
            backend = waker.wait_for_backend(app)
            if backend is not None and websocket:
                self._relay_websocket(backend)
                return
        if backend is None:
            self._boot_timeout()
            return
        self._forward(backend, body)

    def _forwarded_headers(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]

    def _relay_websocket(self, backend: tuple[str, int]) -> None:
        head = upgrade_request(self.command, self.path, self._forwarded_headers())
        self.close_connection = True
        try:
            relay(
                self.connection,
                self.rfile.read1,
                backend,
                head,
                connect_timeout=self.server.waker.request_timeout,
            )
        except OSError as error:
            log.warning("waker: the websocket to %s:%s failed: %s", *backend, error)
            self._plain(502, "The woken dyno did not answer; the request was not sent again.")

    def _forward(self, backend: tuple[str, int], body: bytes | None) -> None:
        """Send the request to the dyno once and relay its answer; never a second attempt."""
        headers = dict(self._forwarded_headers())
        connection = http.client.HTTPConnection(*backend, timeout=self.server.waker.request_timeout)
        started = False
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            started = True
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            # read1: whatever has arrived, so a streamed answer reaches the client as the dyno sends it.
            while chunk := response.read1(CHUNK):
                self.wfile.write(chunk)
        except (OSError, http.client.HTTPException) as error:
            log.warning("waker: forwarding to %s:%s failed: %s", *backend, error)
            if not started:
                self._plain(502, "The woken dyno did not answer; the request was not sent again.")
        finally:
            connection.close()
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class WakerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], waker: Waker) -> None:
        self.waker = waker
        super().__init__(address, WakerHandler)
