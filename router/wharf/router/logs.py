"""Router log lines in Heroku's key=value format, taken from nginx's access log.

nginx writes each request as ``<app>\t<line>`` with the line already in Heroku's format (the
``wharf`` log_format in the template, dyno names included), so the tailer's per-request work stays
small: split off the app, drop the empty ``code= desc=""`` pair of a successful request, and hand
the line to a sink, which the log pipeline points at the app's log stream with source ``router``.
A sink that also has ``deliver_many`` (`RouterBatchSink`) gets each read's lines as one batch, so
it can take its locks once per read instead of once per line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

logger = logging.getLogger(__name__)

NO_ERROR = ' code= desc=""'


class RouterLogSink(Protocol):
    """Receives each router log line for the app it belongs to."""

    def __call__(self, app: str, line: str) -> None: ...


@runtime_checkable
class RouterBatchSink(RouterLogSink, Protocol):
    """A router log sink that also takes one read's worth of `(app, line)` records at once."""

    def deliver_many(self, records: Sequence[tuple[str, str]]) -> None: ...


def deliver_records(sink: RouterLogSink, records: Sequence[tuple[str, str]]) -> None:
    """Hand records to a sink: as one batch when it takes batches, else line by line."""
    if isinstance(sink, RouterBatchSink):
        sink.deliver_many(records)
        return
    for app, line in records:
        sink(app, line)


def split_router_record(raw: bytes) -> tuple[str, str] | None:
    """``(app, Heroku-style line)`` from one access log record; None for unknown hosts and junk."""
    app, separator, line = raw.decode("utf-8", "replace").rstrip("\n").partition("\t")
    if not separator or not app or not line.startswith("at="):
        return None
    return app, line.replace(NO_ERROR, "", 1)


class AccessLogTailer:
    """Follows nginx's access log from its current end, rotating it when it grows too large."""

    def __init__(
        self,
        path: Path,
        sink: RouterLogSink,
        *,
        rotate_bytes: int = 64 * 1024 * 1024,
        reopen: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.sink = sink
        self.rotate_bytes = rotate_bytes
        self.reopen = reopen
        self._file: IO[bytes] | None = None
        self._partial = b""
        self._rotated: Path | None = None
        self._skip_history = True

    def _open(self) -> None:
        """Open the log; the first time from its end, so a restarted router does not replay old lines."""
        try:
            self._file = self.path.open("rb")
        except FileNotFoundError:
            self._file = None
            return
        if self._skip_history:
            self._file.seek(0, os.SEEK_END)
        self._skip_history = False

    def poll(self) -> int:
        """Deliver every complete line written since the last poll; returns how many were read."""
        if self._file is None:
            self._open()
            if self._file is None:
                return 0
        data = self._file.read()
        count = self._dispatch(data)
        if not data and self._replaced():
            self._file.close()
            self._file, self._partial = None, b""
            if self._rotated is not None:
                self._rotated.unlink(missing_ok=True)
                self._rotated = None
            self._open()
        elif self._file.tell() > self.rotate_bytes and self._rotated is None and self.reopen is not None:
            self._rotate()
        return count

    def _replaced(self) -> bool:
        """Whether the path now names another file than the one being read (rotated or recreated)."""
        assert self._file is not None
        try:
            current = self.path.stat()
        except FileNotFoundError:
            return False
        ours = os.fstat(self._file.fileno())
        moved = (current.st_ino, current.st_dev) != (ours.st_ino, ours.st_dev)
        return moved or current.st_size < self._file.tell()

    def _rotate(self) -> None:
        assert self.reopen is not None
        self._rotated = self.path.with_name(self.path.name + ".1")
        os.replace(self.path, self._rotated)
        self.reopen()

    def _dispatch(self, data: bytes) -> int:
        if not data:
            return 0
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        records = [record for record in map(split_router_record, lines) if record is not None]
        if not records:
            return len(lines)
        if isinstance(self.sink, RouterBatchSink):
            try:
                self.sink.deliver_many(records)
            except Exception:
                logger.exception("router log sink failed")
            return len(lines)
        for record in records:
            try:
                self.sink(*record)
            except Exception:
                logger.exception("router log sink failed")
        return len(lines)
