"""Reading one dyno container's stdout and stderr from Docker, line by line, with Docker's timestamps.

Docker keeps each container's output on disk (json-file driver), so a reader that falls behind or
restarts loses nothing: it asks again `since` the last timestamp it shipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wharf.platform.runtime.base import LABEL_APP, LABEL_DYNO, LABEL_PROCESS_TYPE
from wharf.platform.textlines import MAX_LINE_CHARS, truncate_line, truncation_marker


@dataclass(frozen=True)
class DynoIdentity:
    """Which app and dyno a container is, read from the labels the runtime puts on it."""

    container_id: str
    app: str
    dyno: str

    @classmethod
    def from_labels(cls, container_id: str, labels: Mapping[str, str]) -> DynoIdentity | None:
        try:
            return cls(container_id, labels[LABEL_APP], f"{labels[LABEL_PROCESS_TYPE]}.{labels[LABEL_DYNO]}")
        except KeyError:
            return None


@dataclass(frozen=True)
class RawLine:
    """A line as Docker stored it: its RFC 3339 timestamp (nanoseconds) and text."""

    docker_ts: str
    text: str


def nanoseconds(docker_ts: str) -> int:
    """`2026-11-27T18:00:00.123456789Z` as integer nanoseconds since the epoch (for exact ordering)."""
    stamp, _, rest = docker_ts.rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp())
    digits = "".join(ch for ch in rest if ch.isdigit())
    return seconds * 1_000_000_000 + int((digits + "000000000")[:9])


def iso_from_docker(docker_ts: str) -> str:
    """Docker's nanosecond UTC time as the stream's ISO form with microseconds and `+00:00`."""
    stamp, _, fraction = docker_ts.rstrip("Z").partition(".")
    return f"{stamp}.{(fraction + '000000')[:6]}+00:00"


def since_argument(docker_ts: str) -> float:
    """Docker's `since` (a Unix time), a microsecond early: the reader drops what it already shipped."""
    return (nanoseconds(docker_ts) // 1000 - 1) / 1_000_000


def split_frames(frames: Iterable[bytes]) -> Iterator[RawLine]:
    """Turn Docker's log frames (`<ts> <text>`, long lines split over several frames) into lines.

    At most MAX_LINE_CHARS of a line are held; the rest of a long line is counted and marked as cut.
    """
    pending: list[str] = []
    held = 0
    dropped = 0
    pending_ts = ""
    for frame in frames:
        text = frame.decode("utf-8", "replace")
        docker_ts, _, body = text.partition(" ")
        if not pending and not dropped:
            pending_ts = docker_ts
        ends = body.endswith("\n")
        if ends:
            body = body[:-1]
        room = max(0, MAX_LINE_CHARS + 1 - held)
        pending.append(body[:room])
        held += min(len(body), room)
        dropped += max(0, len(body) - room)
        if ends:
            yield _raw_line(pending_ts, pending, dropped)
            pending, held, dropped = [], 0, 0
    if pending or dropped:
        yield _raw_line(pending_ts, pending, dropped)


def _raw_line(docker_ts: str, parts: list[str], dropped: int) -> RawLine:
    text = "".join(parts).rstrip("\r")
    if dropped:
        return RawLine(
            docker_ts, text[:MAX_LINE_CHARS] + truncation_marker(len(text) + dropped - MAX_LINE_CHARS)
        )
    return RawLine(docker_ts, truncate_line(text, MAX_LINE_CHARS))


def read_container_lines(api: Any, container_id: str, after: str | None) -> tuple[Any, Iterator[RawLine]]:
    """Open the container's log stream (following it while it runs) from just after `after`.

    Returns the stream, which another thread may `close()` to stop the reader, and its lines.
    """
    since = since_argument(after) if after else None
    stream = api.logs(
        container_id, stdout=True, stderr=True, stream=True, follow=True, timestamps=True, since=since
    )
    after_ns = nanoseconds(after) if after else -1

    def lines() -> Iterator[RawLine]:
        caught_up = after_ns < 0
        for line in split_frames(stream):
            if not caught_up:
                if nanoseconds(line.docker_ts) <= after_ns:
                    continue
                caught_up = True  # a container's timestamps only grow: no need to compare further
            yield line

    return stream, lines()
