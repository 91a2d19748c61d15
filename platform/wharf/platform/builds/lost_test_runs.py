"""The sweep of lost test runs (see testphase/lost.py), run with the lost-build sweep."""

from __future__ import annotations

import redis
from sqlalchemy import select

from wharf.platform.builds.heartbeat import LostSweep, Unfinished
from wharf.platform.db import session_scope
from wharf.platform.jobs import rerun_job_id
from wharf.platform.models import Build, TestRun
from wharf.platform.testphase.lost import UNFINISHED, fail_test_runs, run_heartbeat_key


class LostTestRuns:
    """Fails the test runs no worker is running (beyond those of unfinished builds)."""

    def __init__(self, client: redis.Redis[bytes], database_url: str) -> None:
        self._database_url = database_url
        self._sweep = LostSweep(client)

    def sweep(self) -> list[int]:
        """Fail what two sweeps in a row found without a worker; their ids."""
        with session_scope(self._database_url) as session:
            building = select(Build.id).where(Build.status.in_(("pending", "building")))
            runs = session.scalars(
                select(TestRun).where(
                    TestRun.status.in_(UNFINISHED),
                    TestRun.build_id.is_(None) | TestRun.build_id.not_in(building),
                )
            ).all()
            rows = [
                Unfinished(r.id, r.status == "pending", run_heartbeat_key(r.id), rerun_job_id(r.id))
                for r in runs
            ]
        lost = self._sweep.lost(rows)
        if lost:
            with session_scope(self._database_url) as session:
                fail_test_runs(session, session.scalars(select(TestRun).where(TestRun.id.in_(lost))))
        return lost
