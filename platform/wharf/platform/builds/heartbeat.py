"""Lost builds: a build whose worker died is failed, and its push told so, within a minute.

While a build runs, its work horse refreshes a key in Redis every few seconds. A build whose key has
expired, or a pending one that is no longer on the queue, lost its worker (killed, out of memory, host
restarted) before or while it ran: the sweep that the build worker dispatcher runs every 15 s marks it
failed and ends its output stream, so the `git push` following it prints why and exits instead of
waiting out the idle timeout.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import redis
from sqlalchemy import select

from wharf.platform.db import session_scope, utcnow
from wharf.platform.jobs import BUILD_QUEUE, build_job_id, queue_key
from wharf.platform.models import Build
from wharf.platform.progress import BuildEnd, append_entry, end_fields, stream_key

log = logging.getLogger(__name__)

BEAT_SECONDS = 10
# Missing beats for this long mean the worker is gone: with the sweep's period, under a minute in all.
LOST_AFTER_SECONDS = 30
LOST_MESSAGE = "the build worker stopped before the build finished; push again to retry"


def heartbeat_key(build_id: int) -> str:
    return f"wharf:build:{build_id}:alive"


@contextlib.contextmanager
def beating(client: redis.Redis[bytes], build_id: int) -> Iterator[None]:
    """Keep the build's heartbeat fresh for the duration of the block (its first beat before it runs)."""
    key = heartbeat_key(build_id)
    client.set(key, b"1", ex=LOST_AFTER_SECONDS)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(BEAT_SECONDS):
            try:
                client.set(key, b"1", ex=LOST_AFTER_SECONDS)
            except redis.RedisError as error:
                log.warning("build %d heartbeat failed: %s", build_id, error)

    thread = threading.Thread(target=beat, name=f"build-{build_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):
            client.delete(key)


def _waiting_in_queue(client: redis.Redis[bytes], build_id: int) -> bool:
    return client.lpos(queue_key(BUILD_QUEUE), build_job_id(build_id)) is not None


# A worker has taken the job but its work horse has not begun beating yet: forking and importing the
# build code takes seconds, more on a busy host. rq moves a taken job to the queue's intermediate list,
# then records its execution (`<job id>:<execution id>`) in the started registry. Past this, it is lost.
PICKUP_GRACE_SECONDS = 120
INTERMEDIATE_KEY = f"{queue_key(BUILD_QUEUE)}:intermediate"
STARTED_REGISTRY_KEY = f"rq:wip:{BUILD_QUEUE}"


def _being_picked_up(client: redis.Redis[bytes], build_id: int) -> bool:
    job_id = build_job_id(build_id)
    if client.lpos(INTERMEDIATE_KEY, job_id) is not None:
        return True
    return any(True for _ in client.zscan_iter(STARTED_REGISTRY_KEY, match=f"{job_id}:*", count=100))


class LostBuilds:
    """Fails the builds no worker is running: building without a heartbeat, or pending and off the queue.

    A build is failed on the second sweep in a row that finds it so, which leaves a worker that has
    just taken a job the time to start its heartbeat.
    """

    def __init__(self, client: redis.Redis[bytes], database_url: str) -> None:
        self._client = client
        self._database_url = database_url
        self._suspects: set[int] = set()
        self._starting: dict[int, float] = {}

    def _candidates(self) -> set[int]:
        with session_scope(self._database_url) as session:
            unfinished = session.scalars(select(Build).where(Build.status.in_(("pending", "building")))).all()
            rows = [(build.id, build.status) for build in unfinished]
        found = set()
        starting: set[int] = set()
        for build_id, status in rows:
            if self._client.exists(heartbeat_key(build_id)):
                continue
            if status == "pending" and _waiting_in_queue(self._client, build_id):
                continue
            if status == "pending" and _being_picked_up(self._client, build_id):
                starting.add(build_id)
                continue
            found.add(build_id)
        # A work horse still starting gets PICKUP_GRACE_SECONDS from when a sweep first saw it so.
        now = time.monotonic()
        self._starting = {b: self._starting.get(b, now) for b in starting}
        found |= {b for b, since in self._starting.items() if now - since >= PICKUP_GRACE_SECONDS}
        return found

    def sweep(self) -> list[int]:
        """Fail what two sweeps in a row found without a worker; their ids."""
        candidates = self._candidates()
        lost = sorted(candidates & self._suspects)
        self._suspects = candidates - set(lost)
        if lost:
            fail_builds(self._client, self._database_url, lost)
        return lost


def fail_builds(client: redis.Redis[bytes], database_url: str, build_ids: list[int]) -> None:
    """Mark the builds failed for want of a worker and end their streams, so their pushes end."""
    with session_scope(database_url) as session:
        for build in session.scalars(select(Build).where(Build.id.in_(build_ids))):
            if build.status in ("pending", "building"):
                build.status = "failed"
                build.failure = LOST_MESSAGE
                build.finished_at = utcnow()
    for build_id in build_ids:
        log.warning("build %d lost its worker; marked failed", build_id)
        append_entry(client, stream_key(build_id), {"line": f" !     {LOST_MESSAGE}".encode()})
        end = BuildEnd(status="failed", release_version=None, message=LOST_MESSAGE)
        append_entry(client, stream_key(build_id), end_fields(end))
