"""Accumulates deltas in memory and hands them to the store every few seconds, from a daemon thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from wharf.platform.metrics.store import Delta, MetricsStore

logger = logging.getLogger(__name__)


class DeltaBuffer:
    """Deltas by (app, minute), written to the store by `flush`; bounded by `max_apps` per flush."""

    def __init__(self, store: MetricsStore, *, interval: float = 5.0, max_apps: int = 10_000) -> None:
        self.store = store
        self.interval = interval
        self.max_apps = max_apps
        self._deltas: dict[tuple[str, int], Delta] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.stop = threading.Event()

    def delta(self, app: str, minute: int) -> Delta | None:
        """The delta to add to (call with the lock held); None when too many apps wait already."""
        found = self._deltas.get((app, minute))
        if found is None:
            if len(self._deltas) >= self.max_apps:
                return None
            found = self._deltas[(app, minute)] = Delta(app, minute)
        return found

    def locked(self) -> threading.Lock:
        return self._lock

    def flush(self) -> None:
        with self._lock:
            deltas, self._deltas = list(self._deltas.values()), {}
        if not deltas:
            return
        try:
            self.store.write(deltas)
        except (redis.RedisError, OSError) as error:
            logger.warning("dropped %d metric deltas, Redis is away: %s", len(deltas), error)

    def start(self, name: str = "metrics-flush", every: Callable[[], None] | None = None) -> None:
        def run() -> None:
            while not self.stop.wait(self.interval):
                if every is not None:
                    every()
                self.flush()
            self.flush()

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
