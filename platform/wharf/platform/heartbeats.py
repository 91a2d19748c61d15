"""Heartbeats: a key in Redis kept fresh while a piece of work runs, so a sweep can tell it has a worker."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import redis

log = logging.getLogger(__name__)


@contextlib.contextmanager
def beating_key(client: redis.Redis[bytes], key: str, *, every: float, expires: int) -> Iterator[None]:
    """Keep `key` fresh in Redis while the block runs: the work it names has a live worker."""
    client.set(key, b"1", ex=expires)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            try:
                client.set(key, b"1", ex=expires)
            except redis.RedisError as error:
                log.warning("heartbeat %s failed: %s", key, error)

    thread = threading.Thread(target=beat, name=f"heartbeat-{key}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):
            client.delete(key)
