"""Lines of tenant output, bounded: a line longer than the cap is cut and says how much was cut.

Build output, deploy output and dyno logs are written by tenants; one line without a newline must not
grow a worker's memory or a Redis stream without bound. Standard library only, so the router process
and the log stream module can use it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# Heroku cuts log lines at 10,000 bytes too.
MAX_LINE_CHARS = 10_000
# Room for the marker, so that a line cut once passes through the next cap (a log copy) unchanged.
MARKER_ROOM = 64


def truncation_marker(dropped: int) -> str:
    return f" … [line truncated: {dropped} more characters dropped]"


def truncate_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """TEXT if it fits in LIMIT characters (and a marker's room), else its first LIMIT and a marker."""
    if len(text) <= limit + MARKER_ROOM:
        return text
    return text[:limit] + truncation_marker(len(text) - limit)


class LineSplitter:
    """Bytes in, lines out, holding at most LIMIT bytes of the current line (the rest is counted)."""

    def __init__(self, limit: int = MAX_LINE_CHARS) -> None:
        self.limit = limit
        self._held = bytearray()
        self._dropped = 0

    def feed(self, chunk: bytes) -> list[str]:
        lines = []
        start = 0
        while start < len(chunk):
            newline = chunk.find(b"\n", start)
            end = len(chunk) if newline < 0 else newline
            room = max(0, self.limit - len(self._held))
            self._held += chunk[start : min(end, start + room)]
            self._dropped += max(0, end - start - room)
            if newline < 0:
                break
            lines.append(self._take())
            start = newline + 1
        return lines

    def close(self) -> list[str]:
        """The unterminated last line, if any."""
        return [self._take()] if self._held or self._dropped else []

    def _take(self) -> str:
        text = self._held.decode("utf-8", errors="replace").rstrip("\r")
        dropped = self._dropped
        self._held.clear()
        self._dropped = 0
        if dropped:
            return text[: self.limit] + truncation_marker(dropped)
        return text


def split_capped_lines(chunks: Iterable[bytes], limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Split a byte stream into lines of at most LIMIT characters (plus a marker), in bounded memory."""
    splitter = LineSplitter(limit)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.close()
