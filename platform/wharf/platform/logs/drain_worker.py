"""Forwarding an app's log to its drains: one thread and one bounded buffer per drain.

Each worker reads the app's stream on its own (so a drain that is down holds back neither the app
nor the other drains), keeps at most `capacity` undelivered lines, and counts what it has to drop
beyond that. While lines are being dropped it writes Heroku's L10 error into the app's log. The
position of the last delivered line is kept in Redis, so a restarted forwarder resumes there.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable

import redis

from wharf.platform.logs.drain_transport import DrainUnavailable, Transport, transport_for
from wharf.platform.logs.drains import DrainSpec, parse_drain_url
from wharf.platform.logs.stream import LogLine, LogWriter, last_id, now_iso, read_after

logger = logging.getLogger(__name__)

POSITIONS_KEY = "wharf:drains:positions"
BATCH_LINES = 500
MAX_BACKOFF_SECONDS = 30.0
DROP_REPORT_DYNO = "logplex"


class DrainWorker:
    def __init__(
        self,
        drain: DrainSpec,
        writer: LogWriter,
        *,
        capacity: int = 1024,
        allow_private: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        report_interval: float = 10.0,
        transport: Transport | None = None,
    ) -> None:
        self.drain = drain
        self.writer = writer
        self.redis: redis.Redis[bytes] = writer.client
        self.capacity = capacity
        self.report_interval = report_interval
        self.transport = transport or transport_for(
            drain, allow_private=allow_private, ssl_context=ssl_context
        )
        self.buffer: deque[LogLine] = deque()
        self.dropped = 0
        self.dropped_since: str | None = None
        self.delivered = 0
        self.stop = threading.Event()
        self._retry_at = 0.0
        self._backoff = 0.5
        self._last_report = time.monotonic()
        self._thread = threading.Thread(target=self.run, name=f"drain-{drain.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.stop.set()
        self._thread.join(timeout)

    def run(self) -> None:
        position = self._start_position()
        try:
            while not self.stop.is_set():
                try:
                    position = self._read(position)
                    self._send()
                    self._report_drops()
                except redis.RedisError as error:
                    logger.warning("drain %s cannot read the log: %s", self.drain.id, error)
                    self.stop.wait(1.0)
        finally:
            self.transport.close()

    def _start_position(self) -> str:
        saved = self.redis.hget(POSITIONS_KEY, str(self.drain.id))
        return saved.decode() if saved else last_id(self.redis, self.drain.app)

    def _read(self, position: str) -> str:
        """Take new lines into the buffer; wait for them only while there is nothing to send."""
        block_ms: int | None = None
        if not self.buffer:
            block_ms = 500
        elif time.monotonic() < self._retry_at:
            block_ms = max(1, min(500, int((self._retry_at - time.monotonic()) * 1000)))
        batch = read_after(self.redis, self.drain.app, position, block_ms=block_ms, count=1000)
        for entry in batch:
            if len(self.buffer) < self.capacity:
                self.buffer.append(entry)
            elif entry.dyno != DROP_REPORT_DYNO:  # counting its own reports would report forever
                self.dropped += 1
                self.dropped_since = self.dropped_since or entry.ts
        return batch[-1].id if batch else position

    def _send(self) -> None:
        if not self.buffer or time.monotonic() < self._retry_at:
            return
        batch = [self.buffer[i] for i in range(min(BATCH_LINES, len(self.buffer)))]
        try:
            self.transport.send(batch)
        except DrainUnavailable as error:
            logger.info("drain %s: %s; retrying in %.1fs", self.drain.id, error, self._backoff)
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
            return
        for _ in batch:
            self.buffer.popleft()
        self.delivered += len(batch)
        self._backoff = 0.5
        self.redis.hset(POSITIONS_KEY, str(self.drain.id), batch[-1].id)

    def _report_drops(self) -> None:
        """Heroku's L10, in the app's own log, at most once per `report_interval`."""
        if not self.dropped or time.monotonic() - self._last_report < self.report_interval:
            return
        target = parse_drain_url(self.drain.url).safe_url
        self.writer.write(
            self.drain.app,
            source="heroku",
            dyno=DROP_REPORT_DYNO,
            line=f"Error L10 (output buffer overflow): {self.dropped} messages dropped since "
            f"{self.dropped_since or now_iso()} (drain {target}).",
        )
        self.dropped, self.dropped_since = 0, None
        self._last_report = time.monotonic()


class DrainManager:
    """Keeps one worker per drain in the database, starting and stopping them as drains change."""

    def __init__(
        self,
        load_drains: Callable[[], list[DrainSpec]],
        make_worker: Callable[[DrainSpec], DrainWorker],
        *,
        reload_seconds: float = 5.0,
    ) -> None:
        self.load_drains = load_drains
        self.make_worker = make_worker
        self.reload_seconds = reload_seconds
        self.workers: dict[DrainSpec, DrainWorker] = {}

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.reconcile(self.load_drains())
                except Exception as error:  # the database may be briefly away: keep the workers running
                    logger.warning("cannot load log drains: %s", error)
                stop.wait(self.reload_seconds)
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        """Stop every worker, keeping their positions for the next start."""
        for worker in self.workers.values():
            worker.stop.set()
        for worker in self.workers.values():
            worker.join(timeout=10)
        self.workers.clear()

    def reconcile(self, drains: list[DrainSpec]) -> None:
        wanted = set(drains)
        for spec in [spec for spec in self.workers if spec not in wanted]:
            worker = self.workers.pop(spec)
            worker.join(timeout=10)
            worker.redis.hdel(POSITIONS_KEY, str(spec.id))
        for spec in drains:
            if spec not in self.workers:
                worker = self.make_worker(spec)
                worker.start()
                self.workers[spec] = worker
