"""How many requests the waker holds: a bound per app and one in total, so a sleeping app cannot make
the waker take every connection of the host."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class HeldRequests:
    def __init__(self, *, per_app: int, total: int) -> None:
        self.per_app = per_app
        self.total = total
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, app: str | None = None) -> int:
        with self._lock:
            return sum(self._held.values()) if app is None else self._held[app]

    @contextmanager
    def hold(self, app: str) -> Iterator[bool]:
        """Yields True when the request may wait for APP's dyno, False when a bound is reached."""
        with self._lock:
            admitted = self._held[app] < self.per_app and sum(self._held.values()) < self.total
            if admitted:
                self._held[app] += 1
        try:
            yield admitted
        finally:
            if admitted:
                with self._lock:
                    self._held[app] -= 1
                    if self._held[app] <= 0:
                        del self._held[app]
