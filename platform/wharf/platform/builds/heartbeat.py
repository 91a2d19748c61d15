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
import time
from dataclasses import dataclass

import redis
from sqlalchemy import select

from wharf.platform.db import session_scope, utcnow
from wharf.platform.heartbeats import beating_key
from wharf.platform.jobs import BUILD_QUEUE, build_job_id, queue_key
from wharf.platform.models import Build, TestRun
from wharf.platform.progress import BuildEnd, append_entry, end_fields, stream_key

log = logging.getLogger(__name__)

BEAT_SECONDS = 10
# Missing beats for this long mean the worker is gone: with the sweep's period, under a minute in all.
LOST_AFTER_SECONDS = 30
LOST_MESSAGE = "the build worker stopped before the build finished; push again to retry"


def heartbeat_key(build_id: int) -> str:
    return f"wharf:build:{build_id}:alive"


def beating(client: redis.Redis[bytes], build_id: int) -> contextlib.AbstractContextManager[None]:
    """Keep the build's heartbeat fresh for the duration of the block (its first beat before it runs)."""
    return beating_key(client, heartbeat_key(build_id), every=BEAT_SECONDS, expires=LOST_AFTER_SECONDS)


def waiting_in_queue(client: redis.Redis[bytes], job_id: str) -> bool:
    return client.lpos(queue_key(BUILD_QUEUE), job_id) is not None


# A worker has taken the job but its work horse has not begun beating yet: forking and importing the
# build code takes seconds, more on a busy host. rq moves a taken job to the queue's intermediate list,
# then records its execution (`<job id>:<execution id>`) in the started registry. Past this, it is lost.
PICKUP_GRACE_SECONDS = 120
INTERMEDIATE_KEY = f"{queue_key(BUILD_QUEUE)}:intermediate"
STARTED_REGISTRY_KEY = f"rq:wip:{BUILD_QUEUE}"


def being_picked_up(client: redis.Redis[bytes], job_id: str) -> bool:
    if client.lpos(INTERMEDIATE_KEY, job_id) is not None:
        return True
    return any(True for _ in client.zscan_iter(STARTED_REGISTRY_KEY, match=f"{job_id}:*", count=100))


@dataclass(frozen=True)
class Unfinished:
    """A build or test run not finished: lost unless its heartbeat, the queue or a worker shows it alive."""

    id: int
    pending: bool
    alive_key: str
    job_id: str


class LostSweep:
    """What two sweeps in a row find without a worker is lost, which leaves a worker that has just
    taken a job the time to start its heartbeat; one being picked up gets PICKUP_GRACE_SECONDS."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self._client = client
        self._suspects: set[int] = set()
        self._starting: dict[int, float] = {}

    def _candidates(self, unfinished: list[Unfinished]) -> set[int]:
        found = set()
        starting: set[int] = set()
        for work in unfinished:
            if self._client.exists(work.alive_key):
                continue
            if work.pending and waiting_in_queue(self._client, work.job_id):
                continue
            if work.pending and being_picked_up(self._client, work.job_id):
                starting.add(work.id)
                continue
            found.add(work.id)
        # A work horse still starting gets PICKUP_GRACE_SECONDS from when a sweep first saw it so.
        now = time.monotonic()
        self._starting = {b: self._starting.get(b, now) for b in starting}
        found |= {b for b, since in self._starting.items() if now - since >= PICKUP_GRACE_SECONDS}
        return found

    def lost(self, unfinished: list[Unfinished]) -> list[int]:
        candidates = self._candidates(unfinished)
        lost = sorted(candidates & self._suspects)
        self._suspects = candidates - set(lost)
        return lost


class LostBuilds:
    """Fails the builds no worker is running: building without a heartbeat, or pending and off the queue."""

    def __init__(self, client: redis.Redis[bytes], database_url: str) -> None:
        self._client = client
        self._database_url = database_url
        self._sweep = LostSweep(client)

    def sweep(self) -> list[int]:
        """Fail what two sweeps in a row found without a worker; their ids."""
        with session_scope(self._database_url) as session:
            unfinished = session.scalars(select(Build).where(Build.status.in_(("pending", "building")))).all()
            rows = [
                Unfinished(b.id, b.status == "pending", heartbeat_key(b.id), build_job_id(b.id))
                for b in unfinished
            ]
        lost = self._sweep.lost(rows)
        if lost:
            fail_builds(self._client, self._database_url, lost)
        return lost


def fail_builds(client: redis.Redis[bytes], database_url: str, build_ids: list[int]) -> None:
    """Mark the builds, and the test runs they were running, failed for want of a worker and end their
    streams, so their pushes end."""
    from wharf.platform.testphase.lost import fail_test_runs

    with session_scope(database_url) as session:
        for build in session.scalars(select(Build).where(Build.id.in_(build_ids))):
            if build.status in ("pending", "building"):
                build.status = "failed"
                build.failure = LOST_MESSAGE
                build.finished_at = utcnow()
        runs = fail_test_runs(
            session, session.scalars(select(TestRun).where(TestRun.build_id.in_(build_ids)))
        )
        stopped = {run.build_id: run.number for run in runs}
    for build_id in build_ids:
        log.warning("build %d lost its worker; marked failed", build_id)
        if build_id in stopped:
            line = f" !     Test run {stopped[build_id]} did not finish: it is marked failed."
            append_entry(client, stream_key(build_id), {"line": line.encode()})
        append_entry(client, stream_key(build_id), {"line": f" !     {LOST_MESSAGE}".encode()})
        end = BuildEnd(status="failed", release_version=None, message=LOST_MESSAGE)
        append_entry(client, stream_key(build_id), end_fields(end))
