"""A woken websocket: the upgrade request is sent to the dyno as it came, and from then on the two
connections are relayed both ways, whatever the dyno answers (its 101 and the frames that follow, or
a plain refusal). Each direction holds at most one CHUNK in flight: a reader that does not read slows
the writer down instead of filling memory. Either side closing closes both."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


def upgrade_request(method: str, path: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The request head for the dyno, its Upgrade and Connection headers the websocket's own."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    lines += ["Connection: Upgrade", "Upgrade: websocket"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def relay(
    client: socket.socket,
    read_client: Callable[[int], bytes],
    backend: tuple[str, int],
    head: bytes,
    *,
    connect_timeout: float,
) -> None:
    """Send HEAD to the dyno at BACKEND and relay both ways until either side closes. READ_CLIENT reads
    the client's side (the handler's buffered reader: it may already hold bytes past the head)."""
    dyno = socket.create_connection(backend, timeout=connect_timeout)
    dyno.settimeout(None)
    try:
        dyno.sendall(head)
        upstream = threading.Thread(
            target=_pump, args=(read_client, dyno.sendall, client, dyno), name="waker-ws-up", daemon=True
        )
        upstream.start()
        _pump(dyno.recv, client.sendall, client, dyno)
        upstream.join()
    finally:
        dyno.close()


def _pump(read: Callable[[int], bytes], write: Callable[[bytes], object], *ends: socket.socket) -> None:
    try:
        while data := read(CHUNK):
            write(data)
    except OSError as error:
        log.debug("waker: websocket relay ended: %s", error)
    finally:
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
