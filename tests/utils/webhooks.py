"""A real HTTP webhook receiver on loopback that keeps every request's body and headers."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hook:
    body: bytes
    headers: dict[str, str]

    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


@dataclass
class WebhookReceiver:
    url: str = ""
    hooks: list[Hook] = field(default_factory=list)
    # Answer this many requests with 503 first (to see retries).
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, predicate: Any, *, timeout: float = 30.0) -> list[Hook]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [hook for hook in self.hooks if predicate(hook.json())]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook in {timeout} s: {[h.body for h in self.hooks]}")


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                failing = receiver.fail_first > 0
                if failing:
                    receiver.fail_first -= 1
                else:
                    receiver.hooks.append(Hook(body=body, headers=dict(self.headers.items())))
            self.send_response(503 if failing else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/wharf"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
