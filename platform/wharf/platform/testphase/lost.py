"""Lost test runs: a run whose worker died is failed, and `wharf ci` says why, like a lost build.

A run in a push's test phase lives as long as its build: while the build is unfinished its heartbeat
speaks for the run, and when the build is found lost its unfinished run is failed with it (the push is
told). A rerun (`wharf ci:rerun`) beats a key of its own while it runs; a rerun without one, and not
waiting on the queue or being picked up (with the builds' grace), is failed by the same sweep
(builds/lost_test_runs.py, run with the lost-build sweep).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.orm import Session

from wharf.platform.db import utcnow
from wharf.platform.models import TestRun

log = logging.getLogger(__name__)

LOST_MESSAGE = "The worker running the tests stopped before they finished; rerun them with `wharf ci:rerun`."
UNFINISHED = ("pending", "running")
# A rerun beats this often; a key this old means its worker is gone.
BEAT_SECONDS = 10
LOST_AFTER_SECONDS = 30


def run_heartbeat_key(run_id: int) -> str:
    return f"wharf:test-run:{run_id}:alive"


def fail_test_runs(session: Session, runs: Iterable[TestRun]) -> list[TestRun]:
    """Mark the unfinished runs failed for want of a worker; those it changed."""
    failed = []
    for run in runs:
        if run.status in UNFINISHED:
            run.status = "failed"
            run.message = LOST_MESSAGE
            run.finished_at = utcnow()
            failed.append(run)
            log.warning("test run %d lost its worker; marked failed", run.id)
    return failed
