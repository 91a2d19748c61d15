"""A held request's body, read whole before the wake so it can be sent to the dyno exactly once: by
Content-Length or in chunks (Transfer-Encoding: chunked), at most a cap either way."""

from __future__ import annotations

from email.message import Message
from io import BufferedIOBase

# A chunk-size line ("1f4;name=value\r\n") and a trailer line are short; so is the list of trailers.
MAX_LINE = 4096
MAX_TRAILERS = 64


class BodyTooLarge(Exception):
    """The body is over the cap (known from Content-Length, or once the chunks pass it)."""


class BadBody(Exception):
    """A malformed Content-Length or chunked framing."""


def read_body(rfile: BufferedIOBase, headers: Message, limit: int) -> bytes | None:
    """The request's body (None for none), decoded from chunks when it came chunked."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return read_chunked(rfile, limit)
    raw = headers.get("Content-Length") or "0"
    if not raw.isdigit():
        raise BadBody(f"Content-Length {raw!r}")
    length = int(raw)
    if length > limit:
        raise BodyTooLarge
    if not length:
        return None
    body = rfile.read(length)
    if len(body) < length:
        raise BadBody("the body ended before its Content-Length")
    return body


def read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size = _chunk_size(rfile.readline(MAX_LINE))
        if size == 0:
            _skip_trailers(rfile)
            return b"".join(parts)
        total += size
        if total > limit:
            raise BodyTooLarge
        data = rfile.read(size)
        if len(data) < size or rfile.readline(MAX_LINE) not in (b"\r\n", b"\n"):
            raise BadBody("a chunk ended early")
        parts.append(data)


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip()
    if not line.endswith(b"\n") or not digits or len(digits) > 16:
        raise BadBody("a malformed chunk size line")
    try:
        return int(digits, 16)
    except ValueError as error:
        raise BadBody("a malformed chunk size") from error


def _skip_trailers(rfile: BufferedIOBase) -> None:
    for _ in range(MAX_TRAILERS):
        line = rfile.readline(MAX_LINE)
        if line in (b"\r\n", b"\n", b""):
            return
    raise BadBody("too many trailers")
