"""RFC 5424 syslog messages and their framings: octet counting (RFC 6587) for TCP and TLS drains,
and Heroku's `application/logplex-1` batches for HTTPS drains.

A message looks like Heroku's: `<190>1 2026-11-27T18:00:00.123456+00:00 myapp app web.1 - - text`
(HOSTNAME is the app, APP-NAME is `app` or `heroku`, PROCID is the dyno).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from wharf.platform.logs.stream import ORIGIN, LogLine

FACILITY_LOCAL7 = 23
SEVERITY_INFO = 6
SEVERITY_ERROR = 3
NIL = "-"
CONTENT_TYPE = "application/logplex-1"


def _header_token(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most `limit` characters, or `-`."""
    cleaned = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return cleaned or NIL


def priority(entry: LogLine) -> int:
    severity = (
        SEVERITY_ERROR if entry.source == "heroku" and entry.line.startswith("Error ") else SEVERITY_INFO
    )
    return FACILITY_LOCAL7 * 8 + severity


def rfc5424(entry: LogLine) -> bytes:
    """One RFC 5424 message (no structured data, no MSGID), UTF-8 without a BOM."""
    header = " ".join(
        (
            f"<{priority(entry)}>1",
            entry.ts or NIL,
            _header_token(entry.app, 255),
            _header_token(ORIGIN.get(entry.source, entry.source), 48),
            _header_token(entry.dyno, 128),
            NIL,
            NIL,
        )
    )
    return f"{header} {entry.line}".encode()


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet counting: `LEN SP MSG`, so a message may hold any byte, newlines included."""
    return str(len(message)).encode() + b" " + message


def frames(entries: Sequence[LogLine]) -> bytes:
    return b"".join(octet_frame(rfc5424(entry)) for entry in entries)


def logplex_headers(count: int, drain_token: str) -> dict[str, str]:
    """The headers Heroku's Logplex sends with each HTTPS drain batch."""
    return {
        "Content-Type": CONTENT_TYPE,
        "Logplex-Msg-Count": str(count),
        "Logplex-Frame-Id": uuid.uuid4().hex,
        "Logplex-Drain-Token": drain_token,
        "User-Agent": "Wharf-Logplex/1",
    }


def parse_octet_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """Split octet-counted frames; returns the complete messages and the unparsed rest."""
    messages: list[bytes] = []
    while True:
        length_text, space, rest = data.partition(b" ")
        if not space or not length_text.isdigit():
            return messages, data
        length = int(length_text)
        if len(rest) < length:
            return messages, data
        messages.append(rest[:length])
        data = rest[length:]
