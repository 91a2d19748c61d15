"""Background work on rq: queues for builds and deploys, with one typed enqueue helper per job."""

from __future__ import annotations

import redis
from rq import Queue
from rq.job import Job

BUILD_QUEUE = "builds"
DEPLOY_QUEUE = "deploys"
ALL_QUEUES = (BUILD_QUEUE, DEPLOY_QUEUE)
# A build has 15 minutes in its builder container; the rest covers the release image and clean-up.
BUILD_JOB_TIMEOUT = 25 * 60


def queue(connection: redis.Redis[bytes], name: str) -> Queue:
    return Queue(name, connection=connection)


def enqueue_build(connection: redis.Redis[bytes], *, build_id: int) -> Job:
    return queue(connection, BUILD_QUEUE).enqueue(
        "wharf.platform.builds.pipeline.run_build",
        build_id=build_id,
        job_timeout=BUILD_JOB_TIMEOUT,
        job_id=f"build-{build_id}",
    )
